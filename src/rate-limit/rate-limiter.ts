import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ClientInfo } from '../http/client';
import { classifyStoreFailure } from '../common/store-failure';
import { SecurityEvents } from '../observability/security-events';
import { TooManyAttemptsError } from './rate-limit.errors';
import {
  RATE_LIMITS,
  RateLimitedRoute,
  rateLimitKey,
  rateLimitRule,
  RateLimits,
  RateLimitScope,
} from './rate-limit.policy';
import { RateLimitStore } from './rate-limit.store';

/** The auth routes' limits over the chosen `RateLimitStore`: count an attempt, clear an account. */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger('RateLimit');

  constructor(
    private readonly store: RateLimitStore,
    @Inject(RATE_LIMITS) private readonly limits: RateLimits,
    private readonly events: SecurityEvents,
  ) {}

  /**
   * Counts one attempt at `route` by `tracker` (an address, email, session or user id) in `scope`;
   * throws `TooManyAttemptsError` past the limit and `StoreUnavailableError` when the counters
   * cannot be reached (a 503: limits fail closed).
   */
  async consume(
    route: RateLimitedRoute,
    scope: RateLimitScope,
    tracker: string,
    client?: ClientInfo,
  ): Promise<void> {
    const decision = await this.store.consume(
      rateLimitRule(this.limits, route, scope),
      rateLimitKey(tracker),
    );
    if (decision.allowed) return;
    this.events.rateLimited(route, scope, client);
    throw new TooManyAttemptsError(decision.retryAfterSeconds);
  }

  /**
   * Clears the route's per-account counter, so failures before a success never lock the real
   * user out. A store that fails here only leaves the counter to expire with its window.
   */
  async resetAccount(route: RateLimitedRoute, account: string): Promise<void> {
    try {
      await this.store.reset(rateLimitRule(this.limits, route, 'account'), rateLimitKey(account));
    } catch (error) {
      this.logger.warn({
        event: 'rate_limit_reset_failed',
        route,
        ...classifyStoreFailure(error),
      });
    }
  }
}
