import { DynamicModule, Module, Type } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Clock } from '../common/clock';
import { SqlDatabase } from '../database/database';
import { SQL_DATABASE } from '../database/database-connection';
import { runMigrations } from '../database/migrations';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { InvalidationChannel } from '../redis/invalidation-channel';
import { RedisClient } from '../redis/redis-client';
import { INVALIDATION_CHANNEL, REDIS_CLIENT } from '../redis/redis-connection';
import { SessionPolicy } from './session';
import { SessionRepository } from './session.repository';
import { SessionCleanupJob } from './session-cleanup.job';
import { SessionSnapshotService } from './session-snapshot';
import { SessionStoreHealthIndicator } from './session-store.health';
import { SessionStoreMetrics } from './session-store.metrics';
import { SessionsService } from './sessions.service';
import { InMemorySessionRepository } from './stores/memory/in-memory-session.repository';
import { NearCachedSessionRepository } from './stores/redis/near-cache';
import { RedisSessionRepository } from './stores/redis/redis-session.repository';
import { SqlSessionRepository } from './stores/sql/sql-session.repository';
import { SESSION_MIGRATIONS } from './stores/sql/sql-session.schema';

export function sessionPolicy(config: FingerprintAuthConfig): SessionPolicy {
  return {
    idleTtl: config.sessionIdleTtl,
    absoluteTtl: config.sessionAbsoluteTtl,
    maxPerUser: config.maxSessionsPerUser,
    limitPolicy: config.sessionLimitPolicy,
    refreshGracePeriod: config.refreshGracePeriod,
  };
}

/**
 * Picks the session store from validated config (the SQL store's tables migrated first); an
 * unknown kind is a programming error. The Redis store is wrapped in the near cache when there
 * is an invalidation channel (the service's, never a command's: those only import or export).
 */
export async function sessionRepositoryFactory(
  config: FingerprintAuthConfig,
  clock: Clock,
  redis: RedisClient | null,
  database: SqlDatabase | null,
  channel: InvalidationChannel | null = null,
  metrics: FingerprintAuthMetrics | null = null,
): Promise<SessionRepository> {
  const store = config.sessionStore;
  switch (store) {
    case 'memory':
      return new InMemorySessionRepository(sessionPolicy(config), config.sessionCapacity, clock);
    case 'redis': {
      if (redis === null) throw new Error('the redis session store needs the Redis client');
      const stored = new RedisSessionRepository(
        redis,
        sessionPolicy(config),
        clock,
        config.redisKeyPrefix,
        {
          replicas: config.redisWaitReplicas,
          timeoutMs: config.redisWaitTimeoutMs,
        },
      );
      if (channel === null || metrics === null) return stored;
      return new NearCachedSessionRepository(stored, channel, clock, metrics.lookupsOf('sessions'));
    }
    case 'sql':
      if (database === null) throw new Error('the sql session store needs the database');
      await runMigrations(database.db, database.kind, SESSION_MIGRATIONS);
      return new SqlSessionRepository(database, sessionPolicy(config), clock);
    default: {
      const unknown: never = store;
      throw new Error(`Unknown session store: ${String(unknown)}`);
    }
  }
}

/**
 * Sessions: the store (behind `SessionRepository`, which only this module sees), the one door to
 * it (`SessionsService`), cleanup, snapshots, readiness and gauges; with `controllers`, the
 * routes that list and end sessions.
 */
@Module({})
export class SessionsModule {
  static register(
    core: DynamicModule,
    controllers: Type[] = [],
    imports: DynamicModule[] = [],
  ): DynamicModule {
    return {
      module: SessionsModule,
      imports: [core, TerminusModule, ...imports],
      controllers,
      providers: [
        {
          provide: SessionRepository,
          inject: [
            FingerprintAuthConfig,
            Clock,
            REDIS_CLIENT,
            SQL_DATABASE,
            INVALIDATION_CHANNEL,
            FingerprintAuthMetrics,
          ],
          useFactory: sessionRepositoryFactory,
        },
        SessionsService,
        SessionCleanupJob,
        SessionStoreHealthIndicator,
        SessionStoreMetrics,
        SessionSnapshotService,
      ],
      exports: [SessionsService, SessionStoreHealthIndicator, SessionCleanupJob],
    };
  }
}
