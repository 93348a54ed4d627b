import 'reflect-metadata';
import { SystemClock } from '../common/clock';
import { Env, InvalidConfigError, validateEnv } from '../config';
import { createRedisClient, RedisClient, waitUntilReady } from '../redis/redis-client';
import { RedisSessionRepository } from '../sessions/redis-session.repository';
import { readSnapshot } from '../sessions/session-snapshot';

const USAGE = `Usage: npm run sessions:import -- <snapshot file>

Loads the sessions of an in-memory snapshot (SESSION_SNAPSHOT_PATH) into Redis, keeping each
session's remaining lifetime, so a single instance can move to SESSION_STORE=redis without
logging anyone out. Reads REDIS_URL and REDIS_KEY_PREFIX (and the session lifetimes) from the
environment, like the service. Sessions already in Redis are left alone; running it twice is safe.`;

/** Sessions written concurrently. */
const IMPORT_BATCH = 500;

export interface ImportCounts {
  imported: number;
  exists: number;
  expired: number;
  foreign: number;
}

/** Imports every session of the snapshot at `path`; throws on an unreadable or foreign file. */
export async function importSnapshot(
  path: string,
  env: Env,
  client: RedisClient,
): Promise<ImportCounts> {
  const repository = new RedisSessionRepository(
    client,
    {
      idleTtl: env.SESSION_IDLE_TTL,
      absoluteTtl: env.SESSION_ABSOLUTE_TTL,
      maxPerUser: env.MAX_SESSIONS_PER_USER,
      limitPolicy: env.SESSION_LIMIT_POLICY,
      refreshGracePeriod: env.REFRESH_GRACE_PERIOD,
    },
    new SystemClock(),
    env.REDIS_KEY_PREFIX,
  );
  const counts: ImportCounts = { imported: 0, exists: 0, expired: 0, foreign: 0 };
  // The file is checked whole before anything is written: a truncated snapshot imports nothing.
  for await (const _ of readSnapshot(path));
  let batch: Promise<void>[] = [];
  for await (const session of readSnapshot(path)) {
    // Many in flight at once: ioredis pipelines them, so a million sessions take seconds.
    batch.push(repository.importSession(session).then((outcome) => void counts[outcome]++));
    if (batch.length >= IMPORT_BATCH) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);
  return counts;
}

async function main(argv: string[]): Promise<number> {
  const path = argv[0];
  if (!path || path === '--help' || path === '-h') {
    console.error(USAGE);
    return path ? 0 : 2;
  }
  const env = validateEnv(process.env);
  if (!env.REDIS_URL) {
    console.error('sessions:import: REDIS_URL is required (the Redis the service will use)');
    return 2;
  }
  const client = createRedisClient(env.REDIS_URL, {
    connectionName: 'fingerprint-auth-import',
    commandTimeoutMs: 5000,
  });
  client.on('error', () => undefined); // reported through the failing command below
  try {
    if (!(await waitUntilReady(client, 5000))) {
      console.error('sessions:import: Redis did not answer within 5 s');
      return 1;
    }
    const counts = await importSnapshot(path, env, client);
    console.error(
      `sessions:import: ${counts.imported} imported, ${counts.exists} already present, ` +
        `${counts.expired} expired, ${counts.foreign} with an id not made for its user (skipped)`,
    );
    return 0;
  } finally {
    client.disconnect();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const message =
        error instanceof InvalidConfigError || error instanceof Error
          ? error.message
          : String(error);
      console.error(`sessions:import: ${message}`);
      process.exit(1);
    },
  );
}
