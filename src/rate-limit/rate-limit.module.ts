import { ExecutionContext, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ThrottlerModule, ThrottlerModuleOptions } from '@nestjs/throttler';
import { Env } from '../config';
import { RedisClient } from '../redis/redis-client';
import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';
import { InMemoryRateLimitStorage } from './in-memory-rate-limit.storage';
import {
  RateLimitedRoute,
  rateLimitedRoute,
  rateLimitKey,
  RateLimits,
  RateLimitScope,
  rateLimitsFrom,
} from './rate-limit.policy';
import { RateLimitStorage } from './rate-limit.storage';
import { RateLimiter } from './rate-limiter';
import { RedisRateLimitStorage } from './redis-rate-limit.storage';

/** Counters live where the sessions live: in this process, or in Redis shared by every instance. */
export function rateLimitStorageFactory(
  config: ConfigService<Env, true>,
  redis: RedisClient | null,
): RateLimitStorage {
  const store = config.get('SESSION_STORE', { infer: true });
  switch (store) {
    case 'memory':
      return new InMemoryRateLimitStorage();
    case 'redis':
      if (redis === null) throw new Error('SESSION_STORE=redis needs the Redis client');
      return new RedisRateLimitStorage(
        redis,
        `${config.get('REDIS_KEY_PREFIX', { infer: true })}ratelimit:`,
      );
    default: {
      const unknown: never = store;
      throw new Error(`Unknown SESSION_STORE: ${String(unknown)}`);
    }
  }
}

function routeOf(context: ExecutionContext): RateLimitedRoute {
  const route = rateLimitedRoute(context);
  if (route === undefined) throw new Error('a rate-limited handler lacks @RateLimited()');
  return route;
}

/**
 * Two named throttlers, `ip` and `account`, whose limits depend on the route (`@RateLimited()`).
 * No X-RateLimit headers: they would make an unknown email and a wrong password answer differently.
 */
export function throttlerOptions(
  limits: RateLimits,
  storage: RateLimitStorage,
): ThrottlerModuleOptions {
  const ttl = limits.windowSeconds * 1000;
  const limitOf = (scope: RateLimitScope) => (context: ExecutionContext) =>
    limits.routes[routeOf(context)][scope];
  return {
    throttlers: [
      { name: 'ip', ttl, limit: limitOf('ip') },
      { name: 'account', ttl, limit: limitOf('account') },
    ],
    storage,
    setHeaders: false,
    generateKey: (context, tracker, name) => rateLimitKey(routeOf(context), name, tracker),
  };
}

@Module({
  imports: [RedisModule],
  providers: [
    {
      provide: RateLimitStorage,
      inject: [ConfigService, REDIS_CLIENT],
      useFactory: rateLimitStorageFactory,
    },
  ],
  exports: [RateLimitStorage],
})
class RateLimitStorageModule {}

/** Rate limits for the auth routes: @nestjs/throttler over the chosen `RateLimitStorage`. */
@Module({
  imports: [
    RateLimitStorageModule,
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [ConfigService, RateLimitStorage],
      useFactory: (config: ConfigService<Env, true>, storage: RateLimitStorage) =>
        throttlerOptions(rateLimitsFrom(config), storage),
    }),
  ],
  providers: [RateLimiter],
  exports: [RateLimiter],
})
export class RateLimitModule {}
