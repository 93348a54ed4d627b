import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createApp } from '../../src/http/bootstrap';
import { FakeClock } from '../../src/common/clock';
import { openApiDocument } from '../../src/http/openapi';
import { ServiceConfig, validateEnv } from '../../src/config';
import { checkResponsesAgainst } from './documented-responses';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/** Limits no e2e suite reaches, whatever it does from 127.0.0.1. */
export const RELAXED_RATE_LIMITS: Record<string, string> = Object.fromEntries(
  [
    'LOGIN_PER_IP',
    'LOGIN_PER_ACCOUNT',
    'REGISTER_PER_IP',
    'REGISTER_PER_ACCOUNT',
    'REFRESH_PER_IP',
    'REFRESH_PER_SESSION',
    'PASSWORD_PER_IP',
    'PASSWORD_PER_ACCOUNT',
  ].map((name) => [`RATE_LIMIT_${name}`, '1000000']),
);

/**
 * A DATA_DIR outside the repository for in-process apps. Nothing is written there unless a suite
 * asks for it (e.g. leaves JWT_SECRET out); a suite that keeps files uses a temp dir of its own.
 */
export const TEST_DATA_DIR = join(tmpdir(), `fpa-e2e-data-${process.pid}`);

/**
 * The environment e2e tests start from: production defaults, an in-memory SQLite database, no
 * session snapshot, and nothing on disk in the repository.
 */
export function testEnv(overrides: Record<string, string> = {}): ServiceConfig {
  return validateEnv({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_SECRET,
    DATA_DIR: TEST_DATA_DIR,
    DATABASE_URL: 'sqlite::memory:',
    SESSION_SNAPSHOT_PATH: 'off',
    GEOIP: 'off',
    LOG_LEVEL: 'silent',
    // Tests drive cleanup themselves; the cron job would fire on 1 January only.
    CLEANUP_CRON: '0 0 0 1 1 *',
    // Suites log in many times from one address; test/security/rate-limit tests the limits.
    ...RELAXED_RATE_LIMITS,
    ...overrides,
  });
}

export interface TestApp {
  readonly app: NestFastifyApplication;
  /** The service's config the app runs on (validated from the test's environment record). */
  readonly config: ServiceConfig;
  readonly clock: FakeClock;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * Starts the real application (AppModule) in-process; requests go through Fastify's `inject`.
 * Every answer is checked against the app's OpenAPI document after the test file.
 */
export async function startApp(
  overrides: Record<string, string> = {},
  options: { clock?: FakeClock } = {},
): Promise<TestApp> {
  const config = testEnv(overrides);
  const clock = options.clock ?? new FakeClock(Date.now());
  const app = await createApp(config, { logger: false, clock });
  checkResponsesAgainst(app, () => openApiDocument(app));
  await app.init();
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();
  return {
    app,
    config,
    clock,
    inject: (injectOptions) => fastify.inject(injectOptions),
    close: () => app.close(),
  };
}
