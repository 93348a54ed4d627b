import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import { Logger as NestLogger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule, AppOptions } from './app.module';
import { setupOpenApi } from './common/openapi';
import { Env } from './config';
import { ShutdownState } from './health/shutdown-state';
import { registerHttpMetrics } from './observability/http-metrics';
import { echoRequestIds, requestId } from './observability/logging';
import { Metrics } from './observability/metrics';

/** Fastify's `trustProxy` from TRUST_PROXY: false, true, a hop count, or proxy addresses/CIDRs. */
export function trustProxySetting(value: string): boolean | number | string[] {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/**
 * Builds the application for a validated environment: the Fastify adapter, cookies, security
 * headers, validation and shutdown hooks. `main.ts` listens on it; e2e tests use it as it is.
 */
export async function createApp(
  env: Env,
  options: AppOptions & { logger?: false } = {},
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    trustProxy: trustProxySetting(env.TRUST_PROXY),
    bodyLimit: env.BODY_LIMIT,
    // Nest sends its own 404 for unknown routes; long params are no session id anyway.
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    genReqId: requestId,
    requestIdHeader: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(env, options),
    adapter,
    // Logs wait for pino (LOG_LEVEL, JSON); tests pass `logger: false` to stay quiet.
    options.logger === false
      ? { bodyParser: false, logger: false }
      : { bodyParser: false, bufferLogs: true },
  );
  if (options.logger !== false) app.useLogger(app.get(Logger));

  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: drop Fastify's text/plain parser so anything but JSON gets 415.
  fastify.removeContentTypeParser('text/plain');
  registerHttpMetrics(fastify, app.get(Metrics));
  echoRequestIds(fastify);
  const shutdown = app.get(ShutdownState);
  // While draining, answers tell keep-alive clients to reconnect (to another instance).
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (shutdown.isShuttingDown) void reply.header('connection', 'close');
    done(null, payload);
  });

  await app.register(fastifyCookie);
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        // The OpenAPI UI at /docs needs its inline bootstrap script and styles.
        scriptSrc: ["'self'", "'unsafe-inline'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
      },
    },
  });

  setupOpenApi(app);

  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
      validationError: { target: false, value: false },
    }),
  );
  // No `enableShutdownHooks()`: main.ts runs its own bounded sequence (`handleShutdownSignals`).

  if (env.JWT_SECRET_GENERATED) {
    new NestLogger('Config').warn(
      'JWT_SECRET is not set: using a random key for this process only (tokens die with it). Set JWT_SECRET (32+ bytes) outside development.',
    );
  }
  return app;
}

export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Graceful shutdown on SIGTERM/SIGINT: readiness reports 503 at once; the HTTP server stops
 * accepting connections and lets in-flight requests finish; then the application closes (cleanup
 * job stopped, session snapshot written, database and Redis closed) and the process exits 0.
 * The whole sequence is bounded by SHUTDOWN_TIMEOUT: past it, the process logs and exits 1.
 * A second signal exits at once.
 */
export function handleShutdownSignals(
  app: NestFastifyApplication,
  env: Env,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  const logger = new NestLogger('Shutdown');
  let started = 0;

  const shutDown = async (signal: NodeJS.Signals): Promise<void> => {
    if (started !== 0) {
      logger.warn({ event: 'shutdown_forced', reason: `second ${signal}` });
      exit(1);
      return;
    }
    started = performance.now();
    app.get(ShutdownState).begin();
    logger.log({ event: 'shutdown_started', signal, timeoutSeconds: env.SHUTDOWN_TIMEOUT });
    const deadline = setTimeout(() => {
      logger.error({
        event: 'shutdown_forced',
        reason: `not finished within SHUTDOWN_TIMEOUT (${env.SHUTDOWN_TIMEOUT} s)`,
      });
      exit(1);
    }, env.SHUTDOWN_TIMEOUT * 1000);
    try {
      // Fastify's close stops accepting, closes idle keep-alive connections and waits for the
      // requests in flight; new requests on open connections get 503 (return503OnClosing).
      await app.getHttpAdapter().close();
      await app.close();
      clearTimeout(deadline);
      logger.log({
        event: 'shutdown_complete',
        durationMs: Math.round(performance.now() - started),
      });
      exit(0);
    } catch (error) {
      clearTimeout(deadline);
      logger.error({
        event: 'shutdown_failed',
        error: error instanceof Error ? error.message : String(error),
      });
      exit(1);
    }
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, (received) => void shutDown(received));
}
