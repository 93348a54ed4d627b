import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { stdTimeFunctions } from 'pino';
import { Env } from '../config';

/** An incoming `x-request-id` is kept only when it is this short and plain (no log injection). */
export const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Log paths whose values are replaced by `[redacted]`: credentials in headers, and any password
 * field wherever an object is logged. Bodies are never logged; this is the safety net.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
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

/** Echoes the request id in every response, so a client can quote it to an operator. */
export function echoRequestIds(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
}

/** Response headers worth a log line; the security headers are the same on every answer. */
const LOGGED_RESPONSE_HEADERS = ['content-type', 'content-length', 'retry-after', 'set-cookie'];

function responseForLog(res: { statusCode: number; headers?: Record<string, unknown> }) {
  const headers: Record<string, unknown> = {};
  for (const name of LOGGED_RESPONSE_HEADERS) {
    if (res.headers?.[name] !== undefined) headers[name] = res.headers[name];
  }
  return { statusCode: res.statusCode, headers };
}

/**
 * Structured JSON logs through pino (nestjs-pino): one line per completed request plus whatever
 * the code logs through Nest's Logger, every line of a request carrying its `reqId`.
 */
export const loggingModule = () =>
  LoggerModule.forRootAsync({
    inject: [ConfigService],
    useFactory: (config: ConfigService<Env, true>) => ({
      pinoHttp: {
        level: config.get('LOG_LEVEL', { infer: true }),
        timestamp: stdTimeFunctions.isoTime,
        formatters: { level: (label: string) => ({ level: label }) },
        // Fastify assigns the id (`requestId`); pino-http reuses `req.id`, so both agree.
        genReqId: requestId,
        serializers: { res: responseForLog },
        quietReqLogger: true,
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        customLogLevel: (_request, response, error) =>
          error || response.statusCode >= 500 ? 'error' : 'info',
        autoLogging: {
          ignore: (request) => QUIET_PATHS.some((path) => request.url?.startsWith(path) ?? false),
        },
      },
      renameContext: 'context',
    }),
  });
