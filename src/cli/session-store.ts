import { SystemClock } from '../common/clock';
import { InvalidConfigError, ServiceConfig, validateEnv } from '../config';
import { openDatabase, SqlDatabase } from '../database/database';
import { createRedisClient, RedisClient, waitUntilReady } from '../redis/redis-client';
import { SessionRepository } from '../sessions/session.repository';
import { sessionRepositoryFactory } from '../sessions/sessions.module';

/** A session store the commands can reach from outside the service: a shared one. */
export interface OpenedStore {
  readonly store: SessionRepository;
  close(): Promise<void>;
}

/**
 * The store the environment names (SESSION_STORE=redis with REDIS_URL and REDIS_KEY_PREFIX, or
 * SESSION_STORE=sql with DATABASE_URL, like the service), with the connection it needs; the SQL
 * store's tables are created when missing. `command` names the caller in errors.
 */
export async function openSharedStore(
  config: ServiceConfig,
  command: string,
): Promise<OpenedStore> {
  if (config.sessionStore === 'memory') {
    throw new InvalidConfigError([`${command} needs a shared store (SESSION_STORE=redis or sql)`]);
  }
  let redis: RedisClient | null = null;
  let database: SqlDatabase | null = null;
  if (config.sessionStore === 'redis') {
    if (!config.redisUrl) throw new InvalidConfigError(['REDIS_URL is required']);
    const client = createRedisClient(config.redisUrl, {
      connectionName: `fingerprint-auth-${command.replace(/[^a-z]/g, '-')}`,
      commandTimeoutMs: 5000,
    });
    client.on('error', () => undefined); // reported through the failing command
    if (!(await waitUntilReady(client, 5000))) {
      client.disconnect();
      throw new Error('Redis did not answer within 5 s');
    }
    redis = client;
  } else {
    database = openDatabase(config.databaseUrl);
  }
  try {
    const store = await sessionRepositoryFactory(config, new SystemClock(), redis, database);
    return {
      store,
      close: async () => {
        redis?.disconnect();
        await database?.db.destroy();
      },
    };
  } catch (error) {
    redis?.disconnect();
    await database?.db.destroy();
    throw error;
  }
}

/**
 * A command over a snapshot file and the shared store the environment names: usage on no argument
 * (exit 2) or `--help`, exit 2 with `memoryMessage` under SESSION_STORE=memory, else `work`'s
 * summary on stderr and exit 0; the connection is closed either way.
 */
export function runStoreCommand(
  command: string,
  usage: string,
  memoryMessage: string,
  work: (path: string, store: SessionRepository) => Promise<string>,
): void {
  runCommand(command, async (argv) => {
    const path = argv[0];
    if (!path || path === '--help' || path === '-h') {
      console.error(usage);
      return path ? 0 : 2;
    }
    const config = validateEnv(process.env);
    if (config.sessionStore === 'memory') {
      console.error(`${command}: ${memoryMessage}`);
      return 2;
    }
    const { store, close } = await openSharedStore(config, command);
    try {
      console.error(`${command}: ${await work(path, store)}`);
      return 0;
    } finally {
      await close();
    }
  });
}

/** Runs a command's `main` and exits with its code; errors print without a stack. */
export function runCommand(command: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`${command}: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
