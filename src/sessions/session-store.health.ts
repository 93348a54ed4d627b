import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { SessionRepository } from './session.repository';
import { sessionStoreFigures } from './session-store.metrics';

/** Raised when the store's `stats()` has not answered by the readiness deadline. */
class NoAnswerInTime extends Error {}

/** `work`, or a rejection once `timeoutMs` have passed; a late outcome of `work` is ignored. */
function withDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswerInTime()), timeoutMs);
  });
  work.catch(() => undefined); // abandoned at the deadline: its failure is nobody's to hear
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/**
 * Readiness: the session store answers within `timeoutMs` (Redis: a ping; SQL: a query on the
 * expiry index) and has room (down at capacity). Reports the same live / expired / capacity /
 * bytes figures as the `fpa_sessions_*` gauges. The deadline is the user database's: a silent
 * database would otherwise hold readiness until the driver gives up (seconds on PostgreSQL),
 * longer than a probe waits.
 */
@Injectable()
export class SessionStoreHealthIndicator {
  constructor(
    private readonly sessions: SessionRepository,
    private readonly health: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'sessionStore', timeoutMs = 1000) {
    const indicator = this.health.check(key);
    try {
      const stats = await withDeadline(this.sessions.stats(), timeoutMs);
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
