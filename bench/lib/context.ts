import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchChild, ChildStartError, startChild } from './children';
import { benchPostgresServer, createBenchDatabase } from './postgres';
import { redisAnswers } from './redis-cleanup';

export type Mode = 'full' | 'quick';

/** How long and how often each part measures. Quick mode checks the scripts in under a minute. */
export interface Settings {
  /** Warm-up per target before it is measured: seconds, or (quick mode) a number of requests. */
  readonly warmup: { durationSec: number } | { amount: number };
  readonly durationSec: number;
  readonly rounds: number;
  readonly latencyMs: number;
  readonly latencyRounds: number;
  readonly storeSessions: number;
  readonly cleanupSessions: number;
  readonly cleanupExpired: number;
  readonly cleanupRounds: number;
  readonly logins: number;
  readonly stormRounds: number;
  readonly revocationTrials: number;
  readonly profileSec: number;
  readonly microIterations: number;
}

export const SETTINGS: Record<Mode, Settings> = {
  full: {
    warmup: { durationSec: 3 },
    durationSec: 5,
    rounds: 5,
    latencyMs: 5000,
    latencyRounds: 3,
    storeSessions: 1_000_000,
    cleanupSessions: 1_000_000,
    cleanupExpired: 100_000,
    cleanupRounds: 3,
    logins: 50,
    stormRounds: 3,
    revocationTrials: 20,
    profileSec: 8,
    microIterations: 200_000,
  },
  quick: {
    warmup: { amount: 500 },
    durationSec: 1,
    rounds: 1,
    latencyMs: 700,
    latencyRounds: 1,
    storeSessions: 50_000,
    cleanupSessions: 50_000,
    cleanupExpired: 5_000,
    cleanupRounds: 1,
    logins: 50,
    stormRounds: 1,
    revocationTrials: 5,
    profileSec: 0,
    microIterations: 10_000,
  },
};

/** The user agent every benchmark client sends (login and requests alike, so no activity write
 *  is triggered by a changed user agent). */
export const USER_AGENT = 'fingerprint-auth-bench/1.0';

export interface BenchContext {
  readonly mode: Mode;
  readonly settings: Settings;
  /** Shared by every app instance of this run (and by baseline A). */
  readonly secret: string;
  /** Where the Redis-mode parts point; null when no Redis URL was given. */
  readonly redisUrl: string | null;
  /** Prefix of every Redis key this run writes (removed at the end). */
  readonly redisPrefix: string;
  /** Extra environment for every app instance, from BENCH_APP_<NAME>=value. */
  readonly appEnv: Record<string, string>;
  log(message: string): void;
}

export function createContext(
  mode: Mode,
  redisUrl: string | null,
  appEnv: Record<string, string>,
): BenchContext {
  return {
    mode,
    settings: SETTINGS[mode],
    secret: randomBytes(48).toString('base64url'),
    redisUrl,
    redisPrefix: `fpa-bench-${randomBytes(4).toString('hex')}:`,
    appEnv,
    log: (message) => console.error(`[bench] ${message}`),
  };
}

/**
 * The context a bench command runs in, from its environment: BENCH_REDIS_URL (or REDIS_URL_TEST,
 * or the local default) when something answers there, and BENCH_APP_<NAME>=value as NAME=value
 * for every bench app.
 */
export async function contextFromEnvironment(mode: Mode): Promise<BenchContext> {
  const redisCandidate =
    process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL_TEST ?? 'redis://127.0.0.1:6379';
  const redisUrl = (await redisAnswers(redisCandidate)) ? redisCandidate : null;
  const appEnv = Object.fromEntries(
    Object.entries(process.env)
      .filter(([name, value]) => name.startsWith('BENCH_APP_') && value !== undefined)
      .map(([name, value]) => [name.slice('BENCH_APP_'.length), value as string]),
  );
  return createContext(mode, redisUrl, appEnv);
}

/** The environment of a bench app: production settings, in-memory users, no cron sweeps. */
export function appEnv(
  context: BenchContext,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'production',
    JWT_SECRET: context.secret,
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'warn',
    GEOIP: 'off',
    // The bench runs the sweep itself; the cron job must not fire in the middle of a measurement.
    CLEANUP_CRON: '0 0 0 1 1 *',
    // Nor a snapshot of a million sessions (the default, every 60 s into ./data).
    SESSION_SNAPSHOT_PATH: 'off',
    SESSION_CAPACITY: '2000000',
    MAX_SESSIONS_PER_USER: '10',
    // The login storm registers and logs in 50 users from one address in a second: a pattern the
    // default limits stop, and the bench measures hashing, not rate limiting.
    RATE_LIMIT_REGISTER_PER_IP: '100000',
    RATE_LIMIT_LOGIN_PER_IP: '100000',
    RATE_LIMIT_LOGIN_PER_ACCOUNT: '100000',
    ...context.appEnv,
    ...overrides,
  };
}

export function startBenchApp(
  context: BenchContext,
  name: string,
  overrides: Record<string, string> = {},
  execArgv: string[] = [],
): Promise<BenchChild> {
  return startChild(name, 'bench-app', { env: appEnv(context, overrides) }, { execArgv });
}

export type RedisApp = { available: true; app: BenchChild } | { available: false; reason: string };

/** Starts a bench app with SESSION_STORE=redis, or says why Redis mode is not available. */
export async function startRedisApp(
  context: BenchContext,
  name: string,
  overrides: Record<string, string> = {},
  execArgv: string[] = [],
): Promise<RedisApp> {
  if (!context.redisUrl) {
    return { available: false, reason: 'no Redis URL (set BENCH_REDIS_URL or REDIS_URL_TEST)' };
  }
  try {
    const app = await startBenchApp(
      context,
      name,
      {
        SESSION_STORE: 'redis',
        REDIS_URL: context.redisUrl,
        REDIS_KEY_PREFIX: context.redisPrefix,
        ...overrides,
      },
      execArgv,
    );
    return { available: true, app };
  } catch (error) {
    if (!(error instanceof ChildStartError)) throw error;
    // Nest logs why the app could not start ("SESSION_STORE=redis is not available yet"), then exits.
    const line =
      error.output
        .split('\n')
        .map((text) => stripAnsi(text).trim())
        .find((text) => /error/i.test(text) && !/^at /.test(text)) ?? error.message.split('\n')[0];
    const why = line.replace(/^.*?ExceptionHandler\]\s*/, '');
    return {
      available: false,
      reason: /not available/i.test(why)
        ? `not available in this build (${why})`
        : `the app did not start with SESSION_STORE=redis (${why})`,
    };
  }
}

/**
 * Bench apps with SESSION_STORE=sql: one on an SQLite file (users and sessions in it), one on a
 * throwaway PostgreSQL database (`cleanUp` drops it and the file once the apps have stopped).
 */
export async function startSqlApps(context: BenchContext): Promise<{
  sqlite: RedisApp;
  postgres: RedisApp;
  cleanUp(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'fpa-bench-sql-'));
  const created = await createBenchDatabase(benchPostgresServer());
  const start = async (name: string, databaseUrl: string): Promise<RedisApp> => {
    try {
      const app = await startBenchApp(context, name, {
        SESSION_STORE: 'sql',
        DATABASE_URL: databaseUrl,
      });
      return { available: true, app };
    } catch (error) {
      if (!(error instanceof ChildStartError)) throw error;
      return { available: false, reason: `the app did not start with SESSION_STORE=sql` };
    }
  };
  const [sqlite, postgres] = await Promise.all([
    start('app (sql: SQLite)', `sqlite:${join(dir, 'bench.db')}`),
    created.database === null
      ? Promise.resolve<RedisApp>({ available: false, reason: created.reason })
      : start('app (sql: PostgreSQL)', created.database.url),
  ]);
  return {
    sqlite,
    postgres,
    cleanUp: async () => {
      rmSync(dir, { recursive: true, force: true });
      await created.database?.drop();
    },
  };
}

/** Nest colours its log lines; the reason is wanted as plain text. */
const stripAnsi = (text: string): string =>
  text.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
