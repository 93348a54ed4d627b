import { DynamicModule, Module } from '@nestjs/common';
import { SqlDatabase } from '../database/database';
import { SQL_DATABASE } from '../database/database-connection';
import { runMigrations } from '../database/migrations';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { RedisClient } from '../redis/redis-client';
import { REDIS_CLIENT } from '../redis/redis-connection';
import { InMemoryRateLimitStore } from './in-memory-rate-limit.store';
import { RATE_LIMITS, rateLimitsFrom } from './rate-limit.policy';
import { RateLimitStore } from './rate-limit.store';
import { RateLimiter } from './rate-limiter';
import { RedisRateLimitStore } from './redis-rate-limit.store';
import { RATE_LIMIT_MIGRATIONS } from './sql-rate-limit.schema';
import { SqlRateLimitStore } from './sql-rate-limit.store';

/**
 * Counters live where the sessions live: in this process, or shared by every instance in Redis or
 * in the SQL database (its counters' table migrated first).
 */
export async function rateLimitStoreFactory(
  config: FingerprintAuthConfig,
  redis: RedisClient | null,
  database: SqlDatabase | null,
): Promise<RateLimitStore> {
  const store = config.sessionStore;
  switch (store) {
    case 'memory':
      return new InMemoryRateLimitStore();
    case 'redis':
      if (redis === null) throw new Error('the redis session store needs the Redis client');
      return new RedisRateLimitStore(redis, `${config.redisKeyPrefix}ratelimit:`);
    case 'sql':
      if (database === null) throw new Error('the sql session store needs the database');
      await runMigrations(database.db, database.kind, RATE_LIMIT_MIGRATIONS);
      return new SqlRateLimitStore(database);
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
          inject: [FingerprintAuthConfig, REDIS_CLIENT, SQL_DATABASE],
          useFactory: rateLimitStoreFactory,
        },
        { provide: RATE_LIMITS, inject: [FingerprintAuthConfig], useFactory: rateLimitsFrom },
        RateLimiter,
      ],
      // The store too: the session cleanup job sweeps its expired counters (SQL).
      exports: [RateLimiter, RateLimitStore],
    };
  }
}
