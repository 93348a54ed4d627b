import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { StoreUnavailableError } from '../common/errors';
import { RedisClient } from '../redis/redis-client';
import { RateLimitRecord, RateLimitStorage } from './rate-limit.storage';

const INCREMENT_COMMAND = 'fpaRateLimitIncrement';
type IncrementCommand = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Counters in Redis, shared by every instance: @nest-lab/throttler-storage-redis's atomic Lua
 * script, with every key under the service's prefix (`<prefix>{<key>:<throttler>}:hits` and
 * `:blocked`; the hash tag keeps both in one Cluster slot), plus `reset`. A Redis that fails is a
 * 503, never a pass. The connection is the service's shared one (`REDIS_CLIENT`): its owner opens
 * and closes it.
 */
export class RedisRateLimitStorage
  extends ThrottlerStorageRedisService
  implements RateLimitStorage
{
  constructor(
    client: RedisClient,
    private readonly prefix: string,
  ) {
    // Redis and Cluster are two overloads of the parent constructor; both are accepted.
    super(client as Redis);
    // The parent's script, run here only because the parent cannot put a prefix before its keys;
    // as a defined command it goes by its SHA (EVALSHA), not as the whole text on every login.
    client.defineCommand(INCREMENT_COMMAND, { numberOfKeys: 2, lua: this.scriptSrc });
  }

  override async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<RateLimitRecord> {
    const [hitKey, blockKey] = this.keysOf(key, throttlerName);
    let result: unknown;
    try {
      result = await (this.redis as unknown as Record<string, IncrementCommand>)[INCREMENT_COMMAND](
        hitKey,
        blockKey,
        throttlerName,
        ttl,
        limit,
        blockDuration,
      );
    } catch (error) {
      throw new StoreUnavailableError('rate-limit', error);
    }
    const values = Array.isArray(result) ? result : [];
    if (values.length !== 4 || values.some((value) => typeof value !== 'number')) {
      throw new StoreUnavailableError('rate-limit', new TypeError('unexpected script result'));
    }
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire] = values as number[];
    return {
      totalHits,
      timeToExpire: Math.ceil(timeToExpire / 1000),
      isBlocked: isBlocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpire / 1000),
    };
  }

  async reset(key: string, throttlerName: string): Promise<void> {
    try {
      await this.redis.del(...this.keysOf(key, throttlerName));
    } catch (error) {
      throw new StoreUnavailableError('rate-limit', error);
    }
  }

  private keysOf(key: string, throttlerName: string): [string, string] {
    const tag = `${this.prefix}{${key}:${throttlerName}}`;
    return [`${tag}:hits`, `${tag}:blocked`];
  }
}
