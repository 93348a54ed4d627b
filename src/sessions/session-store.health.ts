import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { SessionRepository } from './session.repository';

/** Readiness: the session store answers (Redis: a ping) and has room (down at capacity). */
@Injectable()
export class SessionStoreHealthIndicator {
  constructor(
    private readonly sessions: SessionRepository,
    private readonly health: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'sessionStore') {
    const indicator = this.health.check(key);
    try {
      const stats = await this.sessions.stats();
      const details = {
        sessions: stats.stored,
        expired: stats.expired,
        capacity: stats.capacity,
        estimatedBytes: stats.estimatedBytes,
      };
      if (stats.capacity !== null && stats.stored !== null && stats.stored >= stats.capacity) {
        return indicator.down({ ...details, message: 'session store is at capacity' });
      }
      return indicator.up(details);
    } catch {
      return indicator.down({ message: 'session store did not answer' });
    }
  }
}
