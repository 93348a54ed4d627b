import { Inject, Injectable, Logger, OnApplicationShutdown, Provider } from '@nestjs/common';
import { Cluster } from 'ioredis';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { InvalidationChannel } from './invalidation-channel';
import { createRedisClient, RedisClient, waitUntilReady } from './redis-client';

/** The module's Redis connection; `null` when nothing is configured to use Redis. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
/** The channel keeping the in-process caches in step; `null` unless sessions live in Redis. */
export const INVALIDATION_CHANNEL = Symbol('INVALIDATION_CHANNEL');

/** How long start-up waits for Redis before going on without it (readiness reports down). */
const READY_WAIT_MS = 2000;
/** How long shutdown lets QUIT finish in-flight commands before dropping the connection. */
const QUIT_WAIT_MS = 1000;

/**
 * Logs connection trouble once per outage and once when it ends, never per reconnect attempt.
 * Only the error code goes to the log: messages can carry addresses, and URLs carry passwords.
 */
export function logConnectionTrouble(client: RedisClient, logger: Logger): void {
  let down = false;
  const onError = (error: unknown) => {
    if (down) return;
    down = true;
    logger.error(
      `Redis connection lost (${errorCode(error)}); session requests answer 503 until it is back`,
    );
  };
  client.on('error', onError);
  if (client instanceof Cluster) client.on('node error', onError);
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.log('Redis connection is back');
  });
}

function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'unknown error';
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string') return code;
  // Redis replies start with an upper-case code (NOAUTH, WRONGPASS, LOADING…).
  const reply = typeof message === 'string' ? /^[A-Z]+\b/.exec(message) : null;
  return reply?.[0] ?? (typeof name === 'string' ? name : 'unknown error');
}

/**
 * The module's Redis connection: opened when the sessions live in Redis (they and the rate-limit
 * counters share it), null otherwise.
 */
export async function openRedisClient(config: FingerprintAuthConfig): Promise<RedisClient | null> {
  if (config.sessionStore !== 'redis') return null;
  const url = config.redisUrl;
  // Validation requires redisUrl with sessionStore redis; this guards a wiring mistake.
  if (!url) throw new Error('redisUrl is required when sessionStore is redis');
  const logger = new Logger('Redis');
  const client = createRedisClient(url);
  logConnectionTrouble(client, logger);
  if (!(await waitUntilReady(client, READY_WAIT_MS))) {
    logger.warn('Redis is not reachable yet; starting anyway, readiness reports down until it is');
  }
  return client;
}

/**
 * The invalidation channel over the module's Redis connection (its own subscriber connection,
 * opened now; the caches answer once it is subscribed), or null when sessions are not in Redis.
 */
export function openInvalidationChannel(
  config: FingerprintAuthConfig,
  client: RedisClient | null,
  metrics: FingerprintAuthMetrics,
): InvalidationChannel | null {
  if (client === null || !config.redisUrl) return null;
  const channel = new InvalidationChannel(
    client,
    config.redisUrl,
    config.redisKeyPrefix,
    metrics.registry,
  );
  channel.start();
  return channel;
}

/** Closes the module's Redis connections when the application shuts down. */
@Injectable()
export class RedisConnection implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS_CLIENT) private readonly client: RedisClient | null,
    @Inject(INVALIDATION_CHANNEL) private readonly channel: InvalidationChannel | null,
  ) {}

  /**
   * Runs after the HTTP server has closed: the subscription goes first, then QUIT lets in-flight
   * commands finish and the socket ends; bounded, so a dead server gets a plain disconnect
   * instead of a wait.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.channel?.close();
    const client = this.client;
    if (client === null || client.status === 'end') return;
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        client.disconnect();
        resolve();
      }, QUIT_WAIT_MS);
      client.once('end', () => resolve());
    });
    await client.quit().catch(() => client.disconnect());
    await ended;
    clearTimeout(timer);
  }
}

/**
 * The Redis client (`REDIS_CLIENT`) and the invalidation channel (`INVALIDATION_CHANNEL`), both
 * null unless sessions live in Redis, and their closing.
 */
export const redisProviders: Provider[] = [
  { provide: REDIS_CLIENT, inject: [FingerprintAuthConfig], useFactory: openRedisClient },
  {
    provide: INVALIDATION_CHANNEL,
    inject: [FingerprintAuthConfig, REDIS_CLIENT, FingerprintAuthMetrics],
    useFactory: openInvalidationChannel,
  },
  RedisConnection,
];
