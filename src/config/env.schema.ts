import { applyDecorators } from '@nestjs/common';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import { parseDuration } from './duration';

export const NODE_ENVS = ['development', 'production', 'test'] as const;
export const SESSION_LIMIT_POLICIES = ['evict-oldest', 'reject'] as const;
export const SESSION_STORES = ['memory', 'redis'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type SessionLimitPolicy = (typeof SESSION_LIMIT_POLICIES)[number];
export type SessionStoreKind = (typeof SESSION_STORES)[number];

const empty = (value: unknown): boolean => value === undefined || value === null || value === '';

/** Turns `'15m'` / `'900'` into seconds; leaves anything unparsable as NaN so validation names the variable. */
const duration = () =>
  Transform(({ value }) => (empty(value) ? undefined : parseDuration(String(value))));
const integer = () =>
  Transform(({ value }) =>
    empty(value) ? undefined : /^-?\d+$/.test(String(value)) ? Number(value) : NaN,
  );
const boolean = () =>
  Transform(({ value }) => {
    if (empty(value)) return undefined;
    const text = String(value).toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    return value;
  });
const trimmed = () => Transform(({ value }) => (empty(value) ? undefined : String(value).trim()));
const list = () =>
  Transform(({ value }) =>
    empty(value)
      ? []
      : String(value)
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean),
  );

/** An attempt count per window: a whole number from 1 to 1,000,000. */
const rateLimit = () => applyDecorators(integer(), IsInt(), Min(1), Max(1_000_000));

/**
 * Every environment variable the service reads, with its default. Validated once at start;
 * the rest of the code reads the typed result through `ConfigService<Env, true>`.
 */
export class EnvironmentVariables {
  @IsIn(NODE_ENVS)
  NODE_ENV: (typeof NODE_ENVS)[number] = 'development';

  @integer()
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @trimmed()
  @IsString()
  @MinLength(1)
  HOST = '0.0.0.0';

  /** Where the embedded defaults keep their files: the SQLite users, the generated JWT key, the snapshot. */
  @trimmed()
  @IsString()
  @MinLength(1)
  DATA_DIR = './data';

  @IsOptional()
  @IsString()
  JWT_SECRET?: string;

  /** A file holding the key (a mounted Kubernetes or Docker secret); read when the app is built. */
  @IsOptional()
  @trimmed()
  @IsString()
  JWT_SECRET_FILE?: string;

  /** Keys of earlier deployments: accepted for verification, for ACCESS_TOKEN_TTL after start. */
  @list()
  @IsString({ each: true })
  JWT_PREVIOUS_SECRETS: string[] = [];

  @trimmed()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  JWT_ISSUER = 'fingerprint-auth';

  @IsOptional()
  @trimmed()
  @IsString()
  @MaxLength(256)
  JWT_AUDIENCE?: string;

  @duration()
  @IsInt()
  @Min(10)
  @Max(24 * 3600)
  ACCESS_TOKEN_TTL = 15 * 60;

  @duration()
  @IsInt()
  @Min(10)
  SESSION_IDLE_TTL = 30 * 60;

  @duration()
  @IsInt()
  @Min(10)
  SESSION_ABSOLUTE_TTL = 8 * 3600;

  /** Last-activity writes happen at most this often per session (seconds). */
  @duration()
  @IsInt()
  @Min(0)
  SESSION_ACTIVITY_INTERVAL = 60;

  /** A refresh credential that was just rotated is still honoured this long (two tabs refreshing at once). */
  @duration()
  @IsInt()
  @Min(0)
  @Max(300)
  REFRESH_GRACE_PERIOD = 10;

  @integer()
  @IsInt()
  @Min(1)
  @Max(1000)
  MAX_SESSIONS_PER_USER = 5;

  @IsIn(SESSION_LIMIT_POLICIES)
  SESSION_LIMIT_POLICY: SessionLimitPolicy = 'evict-oldest';

  @integer()
  @IsInt()
  @Min(1)
  SESSION_CAPACITY = 1_000_000;

  @IsIn(SESSION_STORES)
  SESSION_STORE: SessionStoreKind = 'memory';

  @IsOptional()
  @trimmed()
  @IsString()
  @Matches(/^rediss?:\/\/[^,\s]+(,\s*(rediss?:\/\/)?[^,\s]+)*$/, {
    message: 'REDIS_URL must be redis://host:port (comma-separated nodes for Redis Cluster)',
  })
  REDIS_URL?: string;

  @trimmed()
  @IsString()
  @MaxLength(64)
  REDIS_KEY_PREFIX = 'fpa:';

  /** Unset: `sqlite:<DATA_DIR>/fingerprint-auth.db` (see `validateEnv`). */
  @IsOptional()
  @trimmed()
  @IsString()
  @Matches(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, {
    message:
      'DATABASE_URL must be sqlite:<path> (or sqlite::memory:) or postgres://user@host:port/db',
  })
  DATABASE_URL?: string;

  @trimmed()
  @IsString()
  @Matches(/^(\S+\s+){4,5}\S+$/, {
    message: 'CLEANUP_CRON must be a cron expression with 5 or 6 fields',
  })
  CLEANUP_CRON = '0 * * * * *';

  /** Sessions examined per cleanup batch before yielding to the event loop. */
  @integer()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  CLEANUP_BATCH_SIZE = 2000;

  /** Unset: `<DATA_DIR>/sessions.snapshot`; `off`: no snapshot (see `validateEnv`). */
  @IsOptional()
  @trimmed()
  @IsString()
  SESSION_SNAPSHOT_PATH?: string;

  /** Also write the snapshot this often (seconds; 0 = only on shutdown): a crash loses at most this. */
  @duration()
  @IsInt()
  @Min(0)
  SESSION_SNAPSHOT_INTERVAL = 60;

  @boolean()
  @IsBoolean()
  COOKIE_SECURE = true;

  @list()
  @Matches(/^https?:\/\/[^/\s]+$/, {
    each: true,
    message: 'CORS_ORIGINS must be comma-separated origins such as https://app.example.com',
  })
  CORS_ORIGINS: string[] = [];

  /**
   * `false`, `true` (trust every hop) or comma-separated proxy addresses/CIDRs. No hop count: it
   * cannot tell a proxy from a client that sends enough X-Forwarded-For entries (Fastify 5.12
   * trusts nothing for one).
   */
  @trimmed()
  @IsString()
  @Matches(/^(true|false|(?!\d+$)[0-9a-fA-F.:/,\s]+)$/, {
    message:
      'TRUST_PROXY must be true, false or comma-separated proxy addresses/CIDRs (a hop count cannot tell a proxy from a client)',
  })
  TRUST_PROXY = 'false';

  /** Session location from the client IP; `off` opens no database and looks nothing up. */
  @boolean()
  @IsBoolean()
  GEOIP = true;

  /** An MMDB file to use instead of the embedded country database (checked when the app is built). */
  @IsOptional()
  @trimmed()
  @IsString()
  GEOIP_DB_PATH?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Alert thresholds for `GET /sessions/alerts`. */
  @integer()
  @IsInt()
  @Min(1)
  ALERT_MAX_SESSIONS = 5;

  @integer()
  @IsInt()
  @Min(1)
  ALERT_MAX_IPS = 3;

  /**
   * Rate limits of the auth routes: attempts per RATE_LIMIT_WINDOW, per client IP and per account
   * (the email for login and register; the session for refresh, counting only refreshes whose
   * secret matched; the user for a password change and an account deletion, which share their
   * counters). A successful login or password change clears its account's counter.
   */
  @duration()
  @IsInt()
  @Min(1)
  @Max(24 * 3600)
  RATE_LIMIT_WINDOW = 15 * 60;

  @rateLimit()
  RATE_LIMIT_LOGIN_PER_IP = 200;

  @rateLimit()
  RATE_LIMIT_LOGIN_PER_ACCOUNT = 10;

  @rateLimit()
  RATE_LIMIT_REGISTER_PER_IP = 20;

  @rateLimit()
  RATE_LIMIT_REGISTER_PER_ACCOUNT = 5;

  @rateLimit()
  RATE_LIMIT_REFRESH_PER_IP = 300;

  @rateLimit()
  RATE_LIMIT_REFRESH_PER_SESSION = 30;

  @rateLimit()
  RATE_LIMIT_PASSWORD_PER_IP = 30;

  @rateLimit()
  RATE_LIMIT_PASSWORD_PER_ACCOUNT = 10;

  /** Largest request body accepted, in bytes. */
  @integer()
  @IsInt()
  @Min(256)
  @Max(1_048_576)
  BODY_LIMIT = 8192;

  /** How long a graceful shutdown may take before the process exits anyway (seconds). */
  @duration()
  @IsInt()
  @Min(1)
  SHUTDOWN_TIMEOUT = 10;

  /**
   * Longest a client may take to send a whole request, headers and body (seconds); past it the
   * answer is 408 and the connection is closed before any handler runs. A request is at most
   * BODY_LIMIT (8 KB by default), which any working link delivers within a second; 5 s leaves room
   * for retransmissions and is half the default SHUTDOWN_TIMEOUT, so a client still sending when a
   * shutdown starts is cut off before the shutdown deadline.
   */
  @duration()
  @IsInt()
  @Min(1)
  @Max(3600)
  REQUEST_TIMEOUT = 5;

  /** Longest a client may take to send the request headers (seconds); at most REQUEST_TIMEOUT. */
  @duration()
  @IsInt()
  @Min(1)
  @Max(3600)
  HEADERS_TIMEOUT = 5;

  /**
   * How long an idle keep-alive connection stays open (seconds). Above the 60 s idle timeout of
   * common load balancers, so the balancer closes first and never sends a request on a connection
   * the service is closing. Idle connections are closed at once when a shutdown starts.
   */
  @duration()
  @IsInt()
  @Min(1)
  @Max(3600)
  KEEP_ALIVE_TIMEOUT = 72;

  /** When set, /metrics is served on this port only (its own listener), not on PORT. */
  @IsOptional()
  @integer()
  @IsInt()
  @Min(1)
  @Max(65535)
  METRICS_PORT?: number;

  /** Address the metrics listener binds to; HOST when unset. */
  @IsOptional()
  @trimmed()
  @IsString()
  @MinLength(1)
  METRICS_HOST?: string;

  /**
   * The OpenAPI UI and documents at /docs, /docs-json and /docs-yaml. Default (validateEnv): off
   * when NODE_ENV=production, on otherwise.
   */
  @IsOptional()
  @boolean()
  @IsBoolean()
  API_DOCS?: boolean;

  /** Readiness reports down above this heap size (MiB). */
  @integer()
  @IsInt()
  @Min(16)
  HEALTH_HEAP_LIMIT_MB = 4096;
}

/** The configuration the app runs on: every variable validated, defaults derived from DATA_DIR. */
export type Env = Omit<
  EnvironmentVariables,
  'DATABASE_URL' | 'SESSION_SNAPSHOT_PATH' | 'API_DOCS'
> & {
  DATABASE_URL: string;
  /** The in-memory store's snapshot file; undefined with SESSION_SNAPSHOT_PATH=off. */
  SESSION_SNAPSHOT_PATH: string | undefined;
  /** Whether SESSION_SNAPSHOT_PATH was given rather than derived from DATA_DIR. */
  SESSION_SNAPSHOT_PATH_SET: boolean;
  /** API_DOCS with its default for NODE_ENV applied. */
  API_DOCS: boolean;
};

export class InvalidConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidConfigError';
  }
}

/** HS256 keys shorter than this are refused (RFC 7518 asks for at least the hash size). */
export const MIN_SECRET_BYTES = 32;
/** Keys with fewer distinct byte values are placeholders or patterns (`aaaa…`, `abcabc…`), not random. */
export const MIN_SECRET_DISTINCT_BYTES = 16;
/**
 * A key written in hex digits only has 16 possible values per character, so it is judged by
 * those: 64 digits (256 bits, what RFC 7518 asks of an HS256 key) of which at least 12 distinct.
 * `openssl rand -hex 32` misses that about twice in ten million draws; 16 distinct digits would
 * refuse a quarter of them.
 */
export const MIN_HEX_SECRET_DIGITS = 64;
export const MIN_HEX_SECRET_DISTINCT_DIGITS = 12;

const HEX_ONLY = /^[0-9a-fA-F]+$/;

/** Why `secret` is too weak to sign tokens, or undefined when it will do. Never quotes the key. */
export function weakSecretProblem(secret: Buffer): string | undefined {
  if (secret.length < MIN_SECRET_BYTES) return `must be at least ${MIN_SECRET_BYTES} bytes`;
  const distinct = new Set(secret).size;
  if (HEX_ONLY.test(secret.toString('latin1'))) {
    const digits = new Set(secret.toString('latin1').toLowerCase()).size;
    if (secret.length < MIN_HEX_SECRET_DIGITS) {
      return `must be at least ${MIN_HEX_SECRET_DIGITS} hex digits (256 bits) when written in hex (use e.g. \`openssl rand -hex 32\`)`;
    }
    if (digits < MIN_HEX_SECRET_DISTINCT_DIGITS) {
      return `must use at least ${MIN_HEX_SECRET_DISTINCT_DIGITS} distinct hex digits (it looks like a placeholder or a pattern; use e.g. \`openssl rand -hex 32\`)`;
    }
    return undefined;
  }
  if (distinct < MIN_SECRET_DISTINCT_BYTES) {
    return `must have at least ${MIN_SECRET_DISTINCT_BYTES} distinct byte values (it looks like a placeholder or a pattern; use e.g. \`openssl rand -base64 48\`)`;
  }
  return undefined;
}

/** Joins DATA_DIR and a file name the way an operator writes it (`./data/x`, not `data/x`). */
export function inDataDir(dataDir: string, name: string): string {
  return `${dataDir.replace(/\/+$/, '')}/${name}`;
}

/**
 * Validates the raw environment; throws `InvalidConfigError` naming every bad variable. Pure: it
 * reads no file (JWT_SECRET_FILE and the generated key are read by `resolveJwtSecrets`).
 */
export function validateEnv(raw: Record<string, unknown>): Env {
  const known = Object.keys(new EnvironmentVariables());
  const picked: Record<string, unknown> = {};
  for (const key of [
    ...known,
    'JWT_SECRET',
    'JWT_SECRET_FILE',
    'JWT_AUDIENCE',
    'REDIS_URL',
    'DATABASE_URL',
    'SESSION_SNAPSHOT_PATH',
    'GEOIP_DB_PATH',
    'METRICS_PORT',
    'METRICS_HOST',
    'API_DOCS',
  ]) {
    if (!empty(raw[key])) picked[key] = raw[key];
  }
  const env = plainToInstance(EnvironmentVariables, picked, { exposeDefaultValues: true });
  const problems = validateSync(env, { forbidUnknownValues: false }).flatMap((error) =>
    Object.values(error.constraints ?? { invalid: `${error.property} is invalid` }).map(
      (message) => (message.startsWith(error.property) ? message : `${error.property}: ${message}`),
    ),
  );

  if (env.JWT_SECRET !== undefined) {
    const weak = weakSecretProblem(Buffer.from(env.JWT_SECRET, 'utf8'));
    if (weak) problems.push(`JWT_SECRET ${weak}`);
  }
  if (env.JWT_SECRET !== undefined && env.JWT_SECRET_FILE !== undefined) {
    problems.push(
      'JWT_SECRET and JWT_SECRET_FILE are both set: set only one (which key is meant?)',
    );
  }
  if (Array.isArray(env.JWT_PREVIOUS_SECRETS)) {
    env.JWT_PREVIOUS_SECRETS.forEach((secret, index) => {
      const weak = weakSecretProblem(Buffer.from(String(secret), 'utf8'));
      if (weak) problems.push(`JWT_PREVIOUS_SECRETS (entry ${index + 1}) ${weak}`);
    });
  }
  if (
    env.JWT_SECRET === undefined &&
    env.JWT_SECRET_FILE === undefined &&
    env.NODE_ENV === 'production'
  ) {
    problems.push(
      `JWT_SECRET or JWT_SECRET_FILE is required when NODE_ENV=production (${MIN_SECRET_BYTES} bytes or more)`,
    );
  }
  if (env.NODE_ENV === 'production' && env.COOKIE_SECURE === false) {
    problems.push('COOKIE_SECURE=false is not allowed when NODE_ENV=production');
  }
  if (env.SESSION_STORE === 'redis' && !env.REDIS_URL) {
    problems.push('REDIS_URL is required when SESSION_STORE=redis');
  }
  if (
    Number.isInteger(env.SESSION_IDLE_TTL) &&
    Number.isInteger(env.SESSION_ABSOLUTE_TTL) &&
    env.SESSION_IDLE_TTL > env.SESSION_ABSOLUTE_TTL
  ) {
    problems.push('SESSION_IDLE_TTL must not exceed SESSION_ABSOLUTE_TTL');
  }
  if (
    Number.isInteger(env.HEADERS_TIMEOUT) &&
    Number.isInteger(env.REQUEST_TIMEOUT) &&
    env.HEADERS_TIMEOUT > env.REQUEST_TIMEOUT
  ) {
    problems.push(
      'HEADERS_TIMEOUT must not exceed REQUEST_TIMEOUT (the headers are part of the request)',
    );
  }
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT === env.PORT) {
    problems.push('METRICS_PORT must differ from PORT');
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);

  const snapshotPath = env.SESSION_SNAPSHOT_PATH;
  return {
    ...env,
    API_DOCS: env.API_DOCS ?? env.NODE_ENV !== 'production',
    DATABASE_URL: env.DATABASE_URL ?? `sqlite:${inDataDir(env.DATA_DIR, 'fingerprint-auth.db')}`,
    SESSION_SNAPSHOT_PATH:
      snapshotPath === undefined
        ? inDataDir(env.DATA_DIR, 'sessions.snapshot')
        : /^off$/i.test(snapshotPath)
          ? undefined
          : snapshotPath,
    SESSION_SNAPSHOT_PATH_SET: snapshotPath !== undefined,
  };
}
