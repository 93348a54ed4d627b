import fastifyCookie, { CookieSerializeOptions, ParseOptions } from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import { Logger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule, AppOptions } from './app.module';
import { reasonPhrase } from './common/exception.filter';
import { useDepthLimitedJsonParser } from './common/json-body';
import { Env } from './config';

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

/** @fastify/cors options, as `app.enableCors` takes them. */
type CorsOptions = NonNullable<Parameters<NestFastifyApplication['enableCors']>[0]>;

/**
 * CORS for the configured origins only: the exact origin is echoed with credentials allowed (and
 * `Vary: Origin`); any other origin, `null` included, gets no CORS header at all, so the browser
 * keeps the answer from the page. Preflights from other origins get 404.
 */
export function corsOptions(allowedOrigins: readonly string[]): CorsOptions {
  const allowed = new Set(allowedOrigins);
  return {
    origin: (origin, callback) =>
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    credentials: true,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
  };
}

/** The Fastify adapter for an environment: proxy trust, body limit, parameter length. */
export function fastifyAdapter(env: Env): FastifyAdapter {
  return new FastifyAdapter({
    trustProxy: trustProxySetting(env.TRUST_PROXY),
    bodyLimit: env.BODY_LIMIT,
    // A parameter this long is no session id: answered 404 below, like any unknown id.
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
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

/**
 * Builds the application for a validated environment: the Fastify adapter, cookies, security
 * headers, validation and shutdown hooks. `main.ts` listens on it; e2e tests use it as it is.
 */
export async function createApp(
  env: Env,
  options: AppOptions & { logger?: false } = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(env, options),
    fastifyAdapter(env),
    {
      bodyParser: false,
      logger: options.logger ?? ['fatal', 'error', 'warn', 'log'],
    },
  );
  await configureApp(app, env);
  return app;
}

/**
 * Everything `createApp` sets up on a created application (parsers, cookies, headers, CORS,
 * validation, shutdown hooks); tests that build the app from a testing module call it too.
 */
export async function configureApp(app: NestFastifyApplication, env: Env): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: drop Fastify's text/plain parser so anything but JSON gets 415.
  fastify.removeContentTypeParser('text/plain');
  useDepthLimitedJsonParser(fastify);

  // Cookies are read as sent, never percent-decoded: ours are base64url, so an encoded variant of
  // a fingerprint is not the value that was set and fails like any other wrong value.
  // (@fastify/cookie hands `parseOptions` to the parser, though its typings call them serialize options.)
  const parseOptions: ParseOptions = { decode: (value) => value };
  await app.register(fastifyCookie, { parseOptions: parseOptions as CookieSerializeOptions });
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

  app.enableCors(corsOptions(env.CORS_ORIGINS));
  // Responses carry tokens, session lists and addresses: no cache keeps them unless a route says so.
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });

  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
      validationError: { target: false, value: false },
    }),
  );
  app.enableShutdownHooks();

  if (env.JWT_SECRET_GENERATED) {
    new Logger('Config').warn(
      'JWT_SECRET is not set: using a random key for this process only (tokens die with it). Set JWT_SECRET (32+ bytes) outside development.',
    );
  }
}
