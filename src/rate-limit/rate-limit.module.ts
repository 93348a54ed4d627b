import { DynamicModule, Module } from '@nestjs/common';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { RedisClient } from '../redis/redis-client';
import { REDIS_CLIENT } from '../redis/redis-connection';
import { InMemoryRateLimitStore } from './in-memory-rate-limit.store';
import { RATE_LIMITS, rateLimitsFrom } from './rate-limit.policy';
import { RateLimitStore } from './rate-limit.store';
import { RateLimiter } from './rate-limiter';
import { RedisRateLimitStore } from './redis-rate-limit.store';

/** Counters live where the sessions live: in this process, or in Redis shared by every instance. */
export function rateLimitStoreFactory(
  config: FingerprintAuthConfig,
  redis: RedisClient | null,
): RateLimitStore {
  const store = config.sessionStore;
  switch (store) {
    case 'memory':
    case 'sql':
      return new InMemoryRateLimitStore();
    case 'redis':
      if (redis === null) throw new Error('the redis session store needs the Redis client');
      return new RedisRateLimitStore(redis, `${config.redisKeyPrefix}ratelimit:`);
    default: {
      const unknown: never = store;
      throw new Error(`Unknown session store: ${String(unknown)}`);
    }
  }
}

/** Rate limits of the auth routes (see `AuthRateLimitGuard` and `RateLimiter`). */
@Module({})
export class RateLimitModule {
  static register(core: DynamicModule): DynamicModule {
    return {
      module: RateLimitModule,
      imports: [core],
      providers: [
        {
          provide: RateLimitStore,
          inject: [FingerprintAuthConfig, REDIS_CLIENT],
          useFactory: rateLimitStoreFactory,
        },
        { provide: RATE_LIMITS, inject: [FingerprintAuthConfig], useFactory: rateLimitsFrom },
        RateLimiter,
      ],
      exports: [RateLimiter],
    };
  }
}
