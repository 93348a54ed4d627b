import { DynamicModule, Module, Type } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Clock } from '../common/clock';
import { SqlDatabase } from '../database/database';
import { SQL_DATABASE } from '../database/database-connection';
import { runMigrations } from '../database/migrations';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { RedisClient } from '../redis/redis-client';
import { REDIS_CLIENT } from '../redis/redis-connection';
import { SessionPolicy } from './session';
import { SessionRepository } from './session.repository';
import { SessionCleanupJob } from './session-cleanup.job';
import { SessionSnapshotService } from './session-snapshot';
import { SessionStoreHealthIndicator } from './session-store.health';
import { SessionStoreMetrics } from './session-store.metrics';
import { SessionsService } from './sessions.service';
import { InMemorySessionRepository } from './stores/memory/in-memory-session.repository';
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
 * unknown kind is a programming error.
 */
export async function sessionRepositoryFactory(
  config: FingerprintAuthConfig,
  clock: Clock,
  redis: RedisClient | null,
  database: SqlDatabase | null,
): Promise<SessionRepository> {
  const store = config.sessionStore;
  switch (store) {
    case 'memory':
      return new InMemorySessionRepository(sessionPolicy(config), config.sessionCapacity, clock);
    case 'redis':
      if (redis === null) throw new Error('the redis session store needs the Redis client');
      return new RedisSessionRepository(
        redis,
        sessionPolicy(config),
        clock,
        config.redisKeyPrefix,
        {
          replicas: config.redisWaitReplicas,
          timeoutMs: config.redisWaitTimeoutMs,
        },
      );
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
          inject: [FingerprintAuthConfig, Clock, REDIS_CLIENT, SQL_DATABASE],
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
