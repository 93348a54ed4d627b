/**
 * Why a store call failed, in words safe to log. Driver messages are never logged: they can name
 * the PostgreSQL host, port, user or database, or the Redis address ("connect ECONNREFUSED
 * 10.0.0.5:5432", 'password authentication failed for user "fpa"'). The reason and a driver code
 * (a Node error code, a PostgreSQL SQLSTATE, an SQLite code or a Redis reply word) say enough.
 */
export type StoreFailureReason =
  'timeout' | 'connection_refused' | 'connection_lost' | 'auth_failed' | 'server_error' | 'unknown';

export interface StoreFailure {
  readonly reason: StoreFailureReason;
  /** `ECONNREFUSED`, `28P01`, `SQLITE_BUSY`, `WRONGPASS`…; absent when the driver gave none. */
  readonly code?: string;
}

const SYSTEM_CODES: Record<string, StoreFailureReason> = {
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  ECONNREFUSED: 'connection_refused',
  ENOTFOUND: 'connection_refused',
  EAI_AGAIN: 'connection_refused',
  EHOSTUNREACH: 'connection_refused',
  ENETUNREACH: 'connection_refused',
  EADDRNOTAVAIL: 'connection_refused',
  ECONNRESET: 'connection_lost',
  ECONNABORTED: 'connection_lost',
  EPIPE: 'connection_lost',
  ENOTCONN: 'connection_lost',
  ERR_SOCKET_CLOSED: 'connection_lost',
};

/** Redis error replies that mean the credentials were refused. */
const REDIS_AUTH_REPLIES = new Set(['NOAUTH', 'WRONGPASS', 'NOPERM']);

/** Fixed messages of pg, pg-pool and ioredis (and this service's own), which carry no address. */
const DRIVER_MESSAGES: Record<string, StoreFailureReason> = {
  'Command timed out': 'timeout',
  'Query read timeout': 'timeout',
  'timeout expired': 'timeout',
  'timeout exceeded when trying to connect': 'timeout',
  'Connection terminated due to connection timeout': 'timeout',
  'ran too late': 'timeout',
  'Connection terminated unexpectedly': 'connection_lost',
  'Connection terminated': 'connection_lost',
  'Connection is closed.': 'connection_lost',
  "Stream isn't writeable and enableOfflineQueue options is false": 'connection_lost',
  "Cluster isn't ready and enableOfflineQueue options is false": 'connection_lost',
  'Cluster is disconnected.': 'connection_lost',
  'Node is disconnected': 'connection_lost',
  'None of startup nodes is available': 'connection_refused',
};

const ERROR_NAMES: Record<string, StoreFailureReason> = {
  DatabaseTimeoutError: 'timeout',
  MaxRetriesPerRequestError: 'connection_lost',
};

/** A code is logged only when it looks like one: nothing else can slip through this field. */
const SAFE_CODE = /^[A-Z0-9_]{2,40}$/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

function sqlState(code: string): StoreFailureReason {
  if (code.startsWith('28')) return 'auth_failed'; // invalid authorization specification
  if (code === '57014') return 'timeout'; // statement_timeout cancelled the query
  if (code === '08001' || code === '08004' || code === '57P03') return 'connection_refused';
  if (code.startsWith('08') || code === '57P01' || code === '57P02') return 'connection_lost';
  return 'server_error';
}

function byCode(code: string): StoreFailureReason | undefined {
  if (code in SYSTEM_CODES) return SYSTEM_CODES[code];
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return 'timeout';
  if (code.startsWith('SQLITE_')) return 'server_error';
  if (SQLSTATE.test(code)) return sqlState(code);
  return undefined;
}

/**
 * The reason a store failed, from the error a driver raised (or a `StoreUnavailableError` or
 * other wrapper around it: causes are followed a few levels down). Never reads out a message.
 */
export function classifyStoreFailure(error: unknown, depth = 0): StoreFailure {
  if (typeof error !== 'object' || error === null) return { reason: 'unknown' };
  const { code, name, message, cause, errors } = error as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && SAFE_CODE.test(code)) {
    const reason = byCode(code);
    if (reason) return { reason, code };
  }
  if (name === 'ReplyError' && typeof message === 'string') {
    // A Redis error reply starts with its code: "WRONGPASS invalid username-password pair".
    const reply = /^[A-Z]+(?=\s|$)/.exec(message)?.[0];
    if (reply)
      return {
        reason: REDIS_AUTH_REPLIES.has(reply) ? 'auth_failed' : 'server_error',
        code: reply,
      };
    return { reason: 'server_error' };
  }
  if (typeof name === 'string' && name in ERROR_NAMES) return { reason: ERROR_NAMES[name] };
  if (typeof message === 'string' && message in DRIVER_MESSAGES) {
    return { reason: DRIVER_MESSAGES[message] };
  }
  if (depth < 3) {
    // Node's connect raises an AggregateError when every address of a host refused.
    const inner = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
    if (inner !== undefined) {
      const found = classifyStoreFailure(inner, depth + 1);
      if (found.reason !== 'unknown') return found;
    }
  }
  return typeof code === 'string' && SAFE_CODE.test(code)
    ? { reason: 'unknown', code }
    : { reason: 'unknown' };
}
