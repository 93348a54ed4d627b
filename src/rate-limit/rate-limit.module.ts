import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Env } from '../config';
import { RedisClient } from '../redis/redis-client';
import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';
import { InMemoryRateLimitStore } from './in-memory-rate-limit.store';
import { RATE_LIMITS, rateLimitsFrom } from './rate-limit.policy';
import { RateLimitStore } from './rate-limit.store';
import { RateLimiter } from './rate-limiter';
import { RedisRateLimitStore } from './redis-rate-limit.store';

/** Counters live where the sessions live: in this process, or in Redis shared by every instance. */
export function rateLimitStoreFactory(
  config: ConfigService<Env, true>,
  redis: RedisClient | null,
): RateLimitStore {
  const store = config.get('SESSION_STORE', { infer: true });
  switch (store) {
    case 'memory':
      return new InMemoryRateLimitStore();
    case 'redis':
      if (redis === null) throw new Error('SESSION_STORE=redis needs the Redis client');
      return new RedisRateLimitStore(
        redis,
        `${config.get('REDIS_KEY_PREFIX', { infer: true })}ratelimit:`,
      );
    default: {
      const unknown: never = store;
      throw new Error(`Unknown SESSION_STORE: ${String(unknown)}`);
    }
  }
}

/** Rate limits of the auth routes (see `AuthRateLimitGuard` and `RateLimiter`). */
@Module({
  imports: [RedisModule],
  providers: [
    {
      provide: RateLimitStore,
      inject: [ConfigService, REDIS_CLIENT],
      useFactory: rateLimitStoreFactory,
    },
    { provide: RATE_LIMITS, inject: [ConfigService], useFactory: rateLimitsFrom },
    RateLimiter,
  ],
  exports: [RateLimiter, RateLimitStore],
})
export class RateLimitModule {}
