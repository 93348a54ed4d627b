import { Injectable, Logger } from '@nestjs/common';
import { RateLimitedRoute, rateLimitKey } from './rate-limit.policy';
import { RateLimitStorage } from './rate-limit.storage';

/** What the controllers do with the limits beyond the guard: clear an account after a success. */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger('RateLimit');

  constructor(private readonly storage: RateLimitStorage) {}

  /**
   * Clears the route's per-account counter, so failures before a success never lock the real
   * user out. A store that fails here only leaves the counter to expire with its window.
   */
  async resetAccount(route: RateLimitedRoute, account: string): Promise<void> {
    try {
      await this.storage.reset(rateLimitKey(route, 'account', account), 'account');
    } catch (error) {
      this.logger.warn(
        `could not reset the ${route} account counter: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}
