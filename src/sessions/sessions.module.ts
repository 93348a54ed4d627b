import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { AuthCookiesModule } from '../auth/auth-cookies.module';
import { Clock } from '../common/clock';
import { Env } from '../config';
import { RedisClient } from '../redis/redis-client';
import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';
import { InMemorySessionRepository } from './in-memory-session.repository';
import { RedisSessionRepository } from './redis-session.repository';
import { SessionPolicy } from './session';
import { SessionRepository } from './session.repository';
import { SessionCleanupJob } from './session-cleanup.job';
import { SessionSnapshotService } from './session-snapshot';
import { SessionStoreHealthIndicator } from './session-store.health';
import { SessionStoreMetrics } from './session-store.metrics';
import { SessionsController } from './sessions.controller';
import { SessionsService } from './sessions.service';

export function sessionPolicy(config: ConfigService<Env, true>): SessionPolicy {
  return {
    idleTtl: config.get('SESSION_IDLE_TTL', { infer: true }),
    absoluteTtl: config.get('SESSION_ABSOLUTE_TTL', { infer: true }),
    maxPerUser: config.get('MAX_SESSIONS_PER_USER', { infer: true }),
    limitPolicy: config.get('SESSION_LIMIT_POLICY', { infer: true }),
    refreshGracePeriod: config.get('REFRESH_GRACE_PERIOD', { infer: true }),
  };
}

/** Picks the session store from validated config; an unknown kind is a programming error. */
function sessionRepositoryFactory(
  config: ConfigService<Env, true>,
  clock: Clock,
  redis: RedisClient | null,
): SessionRepository {
  const store = config.get('SESSION_STORE', { infer: true });
  switch (store) {
    case 'memory':
      return new InMemorySessionRepository(
        sessionPolicy(config),
        config.get('SESSION_CAPACITY', { infer: true }),
        clock,
      );
    case 'redis':
      if (redis === null) throw new Error('SESSION_STORE=redis needs the Redis client');
      return new RedisSessionRepository(
        redis,
        sessionPolicy(config),
        clock,
        config.get('REDIS_KEY_PREFIX', { infer: true }),
      );
    default: {
      const unknown: never = store;
      throw new Error(`Unknown SESSION_STORE: ${String(unknown)}`);
    }
  }
}

@Module({
  imports: [TerminusModule, RedisModule, AuthCookiesModule],
  controllers: [SessionsController],
  providers: [
    {
      provide: SessionRepository,
      inject: [ConfigService, Clock, REDIS_CLIENT],
      useFactory: sessionRepositoryFactory,
    },
    SessionsService,
    SessionCleanupJob,
    SessionStoreHealthIndicator,
    SessionStoreMetrics,
    SessionSnapshotService,
  ],
  exports: [SessionRepository, SessionsService, SessionStoreHealthIndicator, SessionCleanupJob],
})
export class SessionsModule {}
