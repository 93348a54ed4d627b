import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import { DynamicModule, Logger, LogLevel, Type, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule, AppOptions } from './app.module';
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

export interface CreateAppOptions extends AppOptions {
  logger?: false | LogLevel[];
  /** Root module instead of `AppModule.forRoot(env, options)`: benchmarks wrap the app in their
   *  own module so they run on the very same adapter, cookies, headers and pipes. */
  module?: DynamicModule | Type<unknown>;
}

/**
 * Builds the application for a validated environment: the Fastify adapter, cookies, security
 * headers, validation and shutdown hooks. `main.ts` listens on it; e2e tests use it as it is.
 */
export async function createApp(
  env: Env,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    trustProxy: trustProxySetting(env.TRUST_PROXY),
    bodyLimit: env.BODY_LIMIT,
    // Nest sends its own 404 for unknown routes; long params are no session id anyway.
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    options.module ?? AppModule.forRoot(env, options),
    adapter,
    {
      bodyParser: false,
      logger: options.logger ?? ['fatal', 'error', 'warn', 'log'],
    },
  );

  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: drop Fastify's text/plain parser so anything but JSON gets 415.
  fastify.removeContentTypeParser('text/plain');

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
  return app;
}
