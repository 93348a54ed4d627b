import 'reflect-metadata';
import { SystemClock } from '../common/clock';
import { InvalidConfigError, ServiceConfig, validateEnv } from '../config';
import { createRedisClient, RedisClient, waitUntilReady } from '../redis/redis-client';
import { readSnapshot } from '../sessions/session-snapshot';
import { ImportOutcome, SessionRepository } from '../sessions/session.repository';
import { sessionRepositoryFactory } from '../sessions/sessions.module';

const USAGE = `Usage: npm run sessions:import -- <snapshot file>

Loads the sessions of a snapshot (SESSION_SNAPSHOT_PATH) into the session store the environment
names (SESSION_STORE=redis with REDIS_URL and REDIS_KEY_PREFIX, like the service), keeping each
session's remaining lifetime, so a deployment can move stores without logging anyone out.
Sessions already in the store are left alone; running it twice is safe.`;

/** Sessions written concurrently. */
const IMPORT_BATCH = 500;

export type ImportCounts = Record<ImportOutcome, number>;

/** Imports every session of the snapshot at `path` into `store`; throws on an unreadable or
 *  foreign file (checked whole first: a truncated snapshot imports nothing). */
export async function importSnapshot(
  path: string,
  store: SessionRepository,
): Promise<ImportCounts> {
  const counts: ImportCounts = { imported: 0, exists: 0, expired: 0, foreign: 0 };
  for await (const _ of readSnapshot(path));
  let batch: Promise<void>[] = [];
  for await (const session of readSnapshot(path)) {
    // Many in flight at once: a Redis client pipelines them, so a million sessions take seconds.
    batch.push(store.importSession(session).then((outcome) => void counts[outcome]++));
    if (batch.length >= IMPORT_BATCH) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);
  return counts;
}

/** The store the environment names, with the connection it needs (closed by `close`). */
async function openStore(
  config: ServiceConfig,
): Promise<{ store: SessionRepository; close(): void }> {
  let client: RedisClient | null = null;
  if (config.sessionStore === 'redis') {
    if (!config.redisUrl) throw new InvalidConfigError(['REDIS_URL is required']);
    const redis = createRedisClient(config.redisUrl, {
      connectionName: 'fingerprint-auth-import',
      commandTimeoutMs: 5000,
    });
    redis.on('error', () => undefined); // reported through the failing command below
    if (!(await waitUntilReady(redis, 5000))) {
      redis.disconnect();
      throw new Error('Redis did not answer within 5 s');
    }
    client = redis;
  }
  const store = sessionRepositoryFactory(config, new SystemClock(), client);
  return { store, close: () => client?.disconnect() };
}

async function main(argv: string[]): Promise<number> {
  const path = argv[0];
  if (!path || path === '--help' || path === '-h') {
    console.error(USAGE);
    return path ? 0 : 2;
  }
  const config = validateEnv(process.env);
  if (config.sessionStore === 'memory') {
    console.error(
      'sessions:import: SESSION_STORE=memory keeps sessions in the service process: set SESSION_STORE (and its connection) to the store to load the snapshot into',
    );
    return 2;
  }
  const { store, close } = await openStore(config);
  try {
    const counts = await importSnapshot(path, store);
    console.error(
      `sessions:import: ${counts.imported} imported, ${counts.exists} already present, ` +
        `${counts.expired} expired, ${counts.foreign} with an id not made for its user (skipped)`,
    );
    return 0;
  } finally {
    close();
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
