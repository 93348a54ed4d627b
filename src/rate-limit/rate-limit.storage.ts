import type { ThrottlerStorage } from '@nestjs/throttler';

/** What one `increment` reports: hits in the window, seconds to its end, and the block. */
export type RateLimitRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Where the rate limits count: @nestjs/throttler's storage contract plus `reset`, so that a
 * successful login clears its account's counter. The adapter is chosen in `RateLimitModule`.
 */
export abstract class RateLimitStorage implements ThrottlerStorage {
  /**
   * Adds a hit to `key` in a window of `ttl` ms; once the hits exceed `limit` the key is blocked for
   * `blockDuration` ms. Throws `StoreUnavailableError` when the store cannot answer.
   */
  abstract increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<RateLimitRecord>;

  /** Forgets every hit and the block of `key` for `throttlerName`; a no-op when there are none. */
  abstract reset(key: string, throttlerName: string): Promise<void>;
}
