import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { SessionRepository } from './session.repository';
import { sessionStoreFigures } from './session-store.metrics';

/**
 * Readiness: the session store answers (Redis: a ping) and has room (down at capacity). Reports
 * the same live / expired / capacity / bytes figures as the `fpa_sessions_*` gauges.
 */
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
      const details = { ...sessionStoreFigures(stats) };
      if (stats.capacity !== null && stats.stored !== null && stats.stored >= stats.capacity) {
        return indicator.down({ ...details, message: 'session store is at capacity' });
      }
      return indicator.up(details);
    } catch {
      // No driver message: it may name hosts.
      return indicator.down({ message: 'session store did not answer' });
    }
  }
}
