import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import pino, {
  Bindings,
  ChildLoggerOptions,
  Level,
  Logger as PinoLogger,
  stdTimeFunctions,
} from 'pino';
import type { LogLevel } from '../config';

/** An incoming `x-request-id` is kept only when it is this short and plain (no log injection). */
export const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Log paths whose values are replaced by `[redacted]`: credentials in headers, and any password
 * field wherever an object is logged. Bodies are never logged, and request headers are logged
 * through an allow-list (`LOGGED_REQUEST_HEADERS`); this is the safety net.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  // Node attaches the bytes of a request it could not parse to the error (trace-level lines).
  'err.rawPacket',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
];

/** Probes and scrapes arrive every few seconds; their completion lines would drown the rest. */
const QUIET_PATHS = ['/health/', '/metrics'];

/** The caller's request id when it is safe to repeat, else a new one (Fastify's `genReqId`). */
export function requestId(request: IncomingMessage): string {
  const incoming = request.headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * A request's logger (Fastify's `request.log`), which makes pino's child only when a line is
 * written at a level that is on. A child costs every request its bindings turned into JSON,
 * through the redaction, written or not; most requests write nothing (probes and scrapes,
 * anything at LOG_LEVEL=warn): about 12,000 instructions of every such request
 * (BENCHMARKS.md, findings). The lines are pino's child's own, `reqId` included.
 */
export class RequestLogger implements FastifyBaseLogger {
  private made: PinoLogger | undefined;

  constructor(
    private readonly parent: PinoLogger,
    private readonly bindings: Bindings,
  ) {}

  /** The child, made on first use; its level is the parent's until someone sets its own. */
  private get pinoChild(): PinoLogger {
    return (this.made ??= this.parent.child(this.bindings));
  }

  get level(): string {
    return (this.made ?? this.parent).level;
  }

  set level(level: string) {
    this.pinoChild.level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }

  // Methods on the prototype, not arrow fields: a request's logger is one small object.
  fatal(...line: unknown[]): void {
    this.write('fatal', line);
  }

  error(...line: unknown[]): void {
    this.write('error', line);
  }

  warn(...line: unknown[]): void {
    this.write('warn', line);
  }

  info(...line: unknown[]): void {
    this.write('info', line);
  }

  debug(...line: unknown[]): void {
    this.write('debug', line);
  }

  trace(...line: unknown[]): void {
    this.write('trace', line);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): PinoLogger {
    return this.pinoChild.child(bindings, options);
  }

  private write(level: Level, line: unknown[]): void {
    if (!this.isLevelEnabled(level)) return;
    const child = this.pinoChild;
    (child[level] as (...line: unknown[]) => void).apply(child, line);
  }
}

/**
 * Fastify's logging options for the service: the root logger, a `RequestLogger` for each request
 * (bound to its id), and Fastify's own two request lines off (`logCompletedRequests` writes one).
 */
export function fastifyLogging(logger: PinoLogger) {
  return {
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // No per-route log levels here; pino's child is made only for a line to write.
    childLoggerFactory: (parent: FastifyBaseLogger, bindings: Bindings) =>
      new RequestLogger(parent as PinoLogger, bindings),
  };
}

/** The process's one pino logger: JSON lines on stdout at LOG_LEVEL, credentials redacted. */
export function createRootLogger(level: LogLevel): PinoLogger {
  return pino({
    level,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // `req` and `res` arrive already shaped (see logCompletedRequests); this also keeps Fastify's
    // own serializers, which drop the headers, from replacing them.
    serializers: { req: (value: unknown) => value, res: (value: unknown) => value },
  });
}

/**
 * Nest's `Logger` through pino: `new Logger('Security').warn({ event, ... })` becomes one JSON line
 * with `context: "Security"` and the object's fields; a string becomes `msg`. Lines that belong
 * to a request carry its `reqId` because the caller puts it in the object (security events get it
 * from the request's `ClientInfo`); there is no AsyncLocalStorage on the request path, whose
 * promise hooks cost every request on Node 20.
 */
export class PinoLoggerService implements LoggerService {
  constructor(private readonly root: PinoLogger) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest, true);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  /**
   * Nest passes the logger's context as the last argument (a string), and for `error` a stack
   * before it; anything else is ignored.
   */
  private write(level: Level, message: unknown, rest: unknown[], error = false): void {
    if (!this.root.isLevelEnabled(level)) return;
    const last = rest.length > 0 ? rest[rest.length - 1] : undefined;
    const context = typeof last === 'string' ? last : undefined;
    const stack = error && rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    const fields: Record<string, unknown> = context === undefined ? {} : { context };
    if (stack !== undefined) fields.stack = stack;
    if (message instanceof Error) {
      this.root[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.root[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.root[level](fields, String(message));
    }
  }
}

/** Response headers worth a log line; the security headers are the same on every answer. */
const LOGGED_RESPONSE_HEADERS = ['content-type', 'content-length', 'retry-after', 'set-cookie'];

function responseForLog(reply: FastifyReply) {
  const headers: Record<string, unknown> = {};
  for (const name of LOGGED_RESPONSE_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined) headers[name] = value;
  }
  return { statusCode: reply.statusCode, headers };
}

const REDACTED = '[redacted]';

/**
 * Request headers whose values are logged as sent (the Referer without its query). Any other
 * header is logged by name with `[redacted]`: credentials travel in many headers (Authorization,
 * Proxy-Authorization, X-Api-Key, custom ones), so only headers known to be harmless are shown.
 */
export const LOGGED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'expect',
  'origin',
  'referer',
  REQUEST_ID_HEADER,
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'sec-fetch-site',
  'sec-fetch-mode',
  'sec-fetch-dest',
]);

/**
 * The URL with every query value replaced by `[redacted]` (names kept; a part without `=` could
 * be a bare token and goes whole): clients put tokens in queries (`?access_token=…`), and the
 * log must not keep them.
 */
export function redactQuery(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const parts = url
    .slice(start + 1)
    .split('&')
    .map((part) => {
      const equals = part.indexOf('=');
      if (equals !== -1) return `${part.slice(0, equals)}=${REDACTED}`;
      return part === '' ? part : REDACTED;
    });
  return `${url.slice(0, start)}?${parts.join('&')}`;
}

/** A URL without its query and fragment (for the Referer, whose query is another site's). */
export function withoutQuery(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function headersForLog(headers: FastifyRequest['headers']): Record<string, unknown> {
  const logged: Record<string, unknown> = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (!LOGGED_REQUEST_HEADERS.has(name)) logged[name] = REDACTED;
    else if (name === 'referer' && typeof value === 'string') logged[name] = withoutQuery(value);
    else logged[name] = value;
  }
  return logged;
}

const requestForLog = (request: FastifyRequest) => ({
  method: request.method,
  url: redactQuery(request.url),
  headers: headersForLog(request.headers),
  remoteAddress: request.ip,
});

/**
 * One line per completed request (`request completed`, or at error level for a 5xx), written by
 * the request's own logger so it carries the request id; nothing is built when the level is off.
 */
export function logCompletedRequests(fastify: FastifyInstance): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const level = reply.statusCode >= 500 ? 'error' : 'info';
    // The request's logger (createApp gives Fastify a pino instance and a RequestLogger each).
    const log = request.log as RequestLogger;
    if (log.isLevelEnabled(level) && !QUIET_PATHS.some((path) => request.url.startsWith(path))) {
      log[level](
        {
          req: requestForLog(request),
          res: responseForLog(reply),
          responseTime: Math.round(reply.elapsedTime * 1000) / 1000,
        },
        'request completed',
      );
    }
    done();
  });
}
