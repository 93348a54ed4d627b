import { DynamicModule, Logger as NestLogger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger as PinoLogger } from 'pino';
import { AppModule, AppOptions } from '../app.module';
import { reasonPhrase } from './exception.filter';
import { useJsonBodyParser } from './json-body';
import { setupOpenApi } from './openapi';
import { httpTimeouts, SlowSenders } from './http-timeouts';
import { apiSecurityHeaders, helmetOptions, securityHeaders } from './security-headers';
import { ServiceConfig } from '../config';
import { ShutdownState } from '../health/shutdown-state';
import { registerHttpMetrics } from '../observability/http-metrics';
import {
  createRootLogger,
  logCompletedRequests,
  PinoLoggerService,
  REQUEST_ID_HEADER,
  fastifyLogging,
  requestId,
} from '../observability/logging';
import { FingerprintAuthMetrics } from '../observability/metrics';

/** Fastify's `trustProxy` from trustProxy (TRUST_PROXY): false, true, or proxy addresses/CIDRs. */
export function trustProxySetting(value: string): boolean | string[] {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** @fastify/cors options, as `app.enableCors` takes them. */
type CorsOptions = NonNullable<Parameters<NestFastifyApplication['enableCors']>[0]>;

/**
 * CORS for the configured origins only: the exact origin is echoed with credentials allowed (and
 * `Vary: Origin`); any other origin, `null` included, gets no CORS header at all, so the browser
 * keeps the answer from the page. Preflights from other origins get 404.
 *
 * The headers are set in `preParsing`, before the body is read, so a 400, 413 or 415 for a bad
 * body reaches the page with them, as do 404s and the routes' own answers. Not in `onRequest`:
 * there Nest's Fastify adapter runs `@fastify/cors` itself and copies its headers onto the Node.js
 * response, and a response with any header set that way writes every other header through
 * `setHeader` again (validated, lowercased and stored one by one) instead of in one pass: about
 * 16,000 instructions of every request (BENCHMARKS.md, findings). Nothing the service answers
 * between the two hooks needs them: its `onRequest` hooks parse cookies and, while it shuts down,
 * answer 503 (which Nest's own hook does before CORS too).
 */
export function corsOptions(allowedOrigins: readonly string[]): CorsOptions {
  const allowed = new Set(allowedOrigins);
  return {
    hook: 'preParsing',
    origin: (origin, callback) =>
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    credentials: true,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
  };
}

/**
 * The Fastify adapter for the service: proxy trust, body limit, parameter length, request ids
 * and, given one, the logger each request gets a child of (bound to its id).
 */
export function fastifyAdapter(config: ServiceConfig, logger?: PinoLogger): FastifyAdapter {
  return new FastifyAdapter({
    ...(logger ? fastifyLogging(logger) : {}),
    trustProxy: trustProxySetting(config.trustProxy),
    bodyLimit: config.bodyLimit,
    // REQUEST_TIMEOUT, HEADERS_TIMEOUT, KEEP_ALIVE_TIMEOUT: a slow sender gets 408, no handler.
    ...httpTimeouts(config),
    // A parameter this long is no session id: answered 404 below, like any unknown id.
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    genReqId: requestId,
    requestIdHeader: false,
    // Paths the router refuses (too long a parameter, bad encoding) never reach Nest: answer them
    // in the usual error shape, without Fastify's default of echoing the path back.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 404 : 400;
      void reply
        .code(status)
        .header('cache-control', 'no-store')
        .send({
          statusCode: status,
          error: reasonPhrase(status),
          message: reasonPhrase(status),
        });
    },
  });
}

export interface CreateAppOptions extends AppOptions {
  /** `false`: no logs at all (tests); otherwise JSON through pino at LOG_LEVEL. */
  logger?: false;
  /** Root module instead of `AppModule.forRoot(config, options)`: benchmarks wrap the app in
   *  their own module so they run on the very same adapter, headers and parsers. */
  module?: DynamicModule | Type<unknown>;
}

/**
 * Builds the service for a validated config: Fingerprint Auth's module on the Fastify adapter,
 * with the service's security headers, parsers, CORS, metrics, OpenAPI and logs. `main.ts`
 * listens on it; e2e tests use it as it is.
 */
export async function createApp(
  config: ServiceConfig,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  const rootLogger = options.logger === false ? undefined : createRootLogger(config.logLevel);
  const app = await NestFactory.create<NestFastifyApplication>(
    options.module ?? AppModule.forRoot(config, options),
    fastifyAdapter(config, rootLogger),
    // Logs wait for pino (LOG_LEVEL, JSON); tests pass `logger: false` to stay quiet. A start-up
    // failure is thrown to the caller (main.ts says why and exits), never a process abort.
    options.logger === false
      ? { bodyParser: false, logger: false, abortOnError: false }
      : { bodyParser: false, bufferLogs: true, abortOnError: false },
  );
  if (rootLogger) {
    app.useLogger(new PinoLoggerService(rootLogger));
    logCompletedRequests(app.getHttpAdapter().getInstance());
  }
  await configureApp(app, config);
  return app;
}

/**
 * Everything `createApp` sets up on a created application (parsers, headers, CORS, metrics,
 * docs); tests that build the app from a testing module call it too.
 */
export async function configureApp(
  app: NestFastifyApplication,
  config: ServiceConfig,
): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: drop Fastify's text/plain parser so anything but JSON gets 415.
  fastify.removeContentTypeParser('text/plain');
  useJsonBodyParser(fastify);
  registerHttpMetrics(fastify, app.get(FingerprintAuthMetrics).registry);
  const shutdown = app.get(ShutdownState);
  // HSTS and upgrade-insecure-requests only where the service is reached over https.
  const pageHeaders = securityHeaders(helmetOptions(config.cookieSecure));
  const apiHeaders = apiSecurityHeaders(pageHeaders);
  fastify.addHook('onSend', (request, reply, payload, done) => {
    // helmet's headers, worked out once (see securityHeaders), on a page (the API docs); OWASP's
    // set for APIs on every other answer (see apiSecurityHeaders).
    const type = reply.getHeader('content-type');
    void reply.headers(
      typeof type === 'string' && type.startsWith('text/html') ? pageHeaders : apiHeaders,
    );
    // The request id, so a client can quote it to an operator.
    void reply.header(REQUEST_ID_HEADER, request.id);
    // Responses carry tokens, session lists and addresses: no cache keeps them unless a route says so.
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    // While draining, answers tell keep-alive clients to reconnect (to another instance).
    if (shutdown.isShuttingDown) void reply.header('connection', 'close');
    done(null, payload);
  });

  // API_DOCS=off (the production default): /docs and its documents are unknown paths (404).
  if (config.apiDocs) setupOpenApi(app);
  app.enableCors(corsOptions(config.corsOrigins));
  // No global pipe: the library's routes validate their own bodies (BodyValidationPipe). No
  // `enableShutdownHooks()`: main.ts runs its own bounded sequence (`handleShutdownSignals`).
}

export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Graceful shutdown on SIGTERM/SIGINT: readiness reports 503 at once; the HTTP server stops
 * accepting connections and lets in-flight requests finish (clients still sending a request
 * REQUEST_TIMEOUT into the drain are cut off with 408); then the application closes (cleanup
 * job stopped, session snapshot written, database and Redis closed) and the process exits 0.
 * The whole sequence is bounded by SHUTDOWN_TIMEOUT: past it, the process logs and exits 1.
 * A second signal exits at once.
 */
export function handleShutdownSignals(
  app: NestFastifyApplication,
  config: ServiceConfig,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  const logger = new NestLogger('Shutdown');
  const senders = new SlowSenders(app.getHttpServer());
  let started = 0;

  const shutDown = async (signal: NodeJS.Signals): Promise<void> => {
    if (started !== 0) {
      logger.warn({ event: 'shutdown_forced', reason: `second ${signal}` });
      exit(1);
      return;
    }
    started = performance.now();
    app.get(ShutdownState).begin();
    logger.log({ event: 'shutdown_started', signal, timeoutSeconds: config.shutdownTimeout });
    const deadline = setTimeout(() => {
      logger.error({
        event: 'shutdown_forced',
        reason: `not finished within SHUTDOWN_TIMEOUT (${config.shutdownTimeout} s)`,
      });
      exit(1);
    }, config.shutdownTimeout * 1000);
    // Node stops checking REQUEST_TIMEOUT once the server closes: clients still sending by then
    // are cut off here, so they cannot hold the drain until the deadline.
    const cutoff = setTimeout(() => {
      const connections = senders.cutSenders();
      if (connections > 0) logger.warn({ event: 'shutdown_cut_slow_senders', connections });
    }, config.requestTimeout * 1000);
    try {
      // Fastify's close stops accepting, closes idle keep-alive connections and waits for the
      // requests in flight; new requests on open connections get 503 (return503OnClosing).
      await app.getHttpAdapter().close();
      await app.close();
      clearTimeout(deadline);
      clearTimeout(cutoff);
      logger.log({
        event: 'shutdown_complete',
        durationMs: Math.round(performance.now() - started),
      });
      exit(0);
    } catch (error) {
      clearTimeout(deadline);
      clearTimeout(cutoff);
      logger.error({
        event: 'shutdown_failed',
        error: error instanceof Error ? error.message : String(error),
      });
      exit(1);
    }
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, (received) => void shutDown(received));
}
