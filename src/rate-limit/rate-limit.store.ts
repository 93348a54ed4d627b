import { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../common/errors';
import type { SweepResult } from '../common/sweep';

/** One limit: at most `limit` attempts per key in each window of `windowSeconds`. */
export interface RateLimitRule {
  /** Names the counters (`login:ip`); keys of different rules never meet. */
  readonly name: string;
  readonly limit: number;
  readonly windowSeconds: number;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Whole seconds until the key's window ends; 0 when allowed. */
  readonly retryAfterSeconds: number;
}

/**
 * Where attempts are counted. Fixed windows: a key is refused once its attempts in the current
 * window exceed the limit, until that window ends. Adapters: `InMemoryRateLimitStore` (one
 * process), `RedisRateLimitStore` and `SqlRateLimitStore` (shared by every instance).
 */
export abstract class RateLimitStore {
  /** Counts one attempt of `key` under `rule` and says whether it is allowed; throws
   *  `StoreUnavailableError('rate-limit')` when the store cannot answer (never a silent pass). */
  abstract consume(rule: RateLimitRule, key: string): Promise<RateLimitDecision>;

  /** Forgets every attempt of `key` under `rule`; a no-op when there are none. */
  abstract reset(rule: RateLimitRule, key: string): Promise<void>;

  /**
   * Removes up to `max` counters whose window has ended; only stores whose counters do not expire
   * by themselves have it (SQL), and the session cleanup job calls it after its own sweep.
   */
  deleteExpired?(max: number): Promise<SweepResult>;
}

/** The adapters' common part: one rate-limiter-flexible limiter per rule, made on first use. */
export abstract class FlexibleRateLimitStore extends RateLimitStore {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  /** A limiter counting `rule.limit` points per `rule.windowSeconds` under the rule's name. */
  protected abstract createLimiter(rule: RateLimitRule): RateLimiterAbstract;

  /** Runs one call of a limiter; an adapter that must hold a lock on its driver first wraps it. */
  protected call<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  async consume(rule: RateLimitRule, key: string): Promise<RateLimitDecision> {
    try {
      await this.call(() => this.limiterFor(rule).consume(key));
      return { allowed: true, retryAfterSeconds: 0 };
    } catch (rejection) {
      // rate-limiter-flexible rejects with a RateLimiterRes when the limit is reached and with
      // an Error when its store failed.
      if (rejection instanceof RateLimiterRes) {
        return {
          allowed: false,
          retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)),
        };
      }
      throw new StoreUnavailableError('rate-limit', rejection);
    }
  }

  async reset(rule: RateLimitRule, key: string): Promise<void> {
    try {
      await this.call(() => this.limiterFor(rule).delete(key));
    } catch (error) {
      throw new StoreUnavailableError('rate-limit', error);
    }
  }

  private limiterFor(rule: RateLimitRule): RateLimiterAbstract {
    const id = `${rule.name}/${rule.limit}/${rule.windowSeconds}`;
    let limiter = this.limiters.get(id);
    if (limiter === undefined) {
      limiter = this.createLimiter(rule);
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}
