import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Logger as NestPinoLogger, PinoLogger as NestPinoAdapter } from 'nestjs-pino';
import { storage, Store } from 'nestjs-pino/storage';
import pino, { Logger as PinoLogger, stdTimeFunctions } from 'pino';
import type { Env } from '../config';

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

/** The process's one pino logger: JSON lines on stdout at LOG_LEVEL, credentials redacted. */
export function createRootLogger(level: Env['LOG_LEVEL']): PinoLogger {
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
 * Nest's `Logger` through pino (nestjs-pino's `Logger`): while a request is served, lines go
 * through that request's logger (Fastify gives each request a child bound to its id, `reqId`), so
 * every line of a request carries its id; outside requests (start-up, jobs) the root logger writes.
 */
export function nestLogger(root: PinoLogger): LoggerService {
  const params = { pinoHttp: { logger: root }, renameContext: 'context' };
  return new NestPinoLogger(new NestPinoAdapter(params), params);
}

/**
 * Makes each request's logger the one nestjs-pino finds (its AsyncLocalStorage), from Fastify's
 * first hook. nestjs-pino's LoggerModule would do this in a Nest middleware behind pino-http,
 * which builds two more child loggers per request (one binding the whole serialised request) and
 * runs Nest's middleware layer: together about a third of a small request's CPU.
 */
export function bindRequestLoggers(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    storage.run(new Store(request.log as PinoLogger), done);
  });
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

const requestForLog = (request: FastifyRequest) => ({
  method: request.method,
  url: request.url,
  headers: request.headers,
  remoteAddress: request.ip,
});

/**
 * One line per completed request (`request completed`, or at error level for a 5xx), written by
 * the request's own logger so it carries the request id; nothing is built when the level is off.
 */
export function logCompletedRequests(fastify: FastifyInstance): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const level = reply.statusCode >= 500 ? 'error' : 'info';
    // The request's child of the root logger (createApp gives Fastify a pino instance).
    const log = request.log as PinoLogger;
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
