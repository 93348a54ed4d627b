import { RateLimiterMemory } from 'rate-limiter-flexible';
import { FlexibleRateLimitStore, RateLimitRule } from './rate-limit.store';

/** Counters in this process (rate-limiter-flexible's memory limiter): the embedded default. */
export class InMemoryRateLimitStore extends FlexibleRateLimitStore {
  protected createLimiter(rule: RateLimitRule): RateLimiterMemory {
    return new RateLimiterMemory({
      keyPrefix: rule.name,
      points: rule.limit,
      duration: rule.windowSeconds,
    });
  }
}
