import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { RedisClient } from '../redis/redis-client';
import { FlexibleRateLimitStore, RateLimitRule } from './rate-limit.store';

/**
 * Counters in Redis, shared by every instance (rate-limiter-flexible's Redis limiter: one atomic
 * script per attempt, one key per counter, so Redis Cluster is fine). Keys are
 * `<prefix><rule>:<key>`. While the connection is not ready, attempts fail at once (503) rather
 * than queue. The connection is the service's shared one: its owner opens and closes it.
 */
export class RedisRateLimitStore extends FlexibleRateLimitStore {
  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
  ) {
    super();
  }

  protected createLimiter(rule: RateLimitRule): RateLimiterRedis {
    return new RateLimiterRedis({
      storeClient: this.client,
      keyPrefix: `${this.prefix}${rule.name}`,
      points: rule.limit,
      duration: rule.windowSeconds,
      rejectIfRedisNotReady: true,
    });
  }
}
