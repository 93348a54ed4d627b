import { ThrottlerStorageService } from '@nestjs/throttler';
import { RateLimitStorage } from './rate-limit.storage';

/** The parent's private per-key hit times; `reset` must drop them or the hits come back. */
interface ThrottlerStorageInternals {
  hitExpirations: Map<string, unknown>;
}

/**
 * @nestjs/throttler's own in-memory storage (one process), with `reset`. Keys here are never
 * shared between throttler names, so forgetting the whole key forgets exactly one counter.
 */
export class InMemoryRateLimitStorage extends ThrottlerStorageService implements RateLimitStorage {
  async reset(key: string, _throttlerName: string): Promise<void> {
    this.storage.delete(key);
    (this as unknown as ThrottlerStorageInternals).hitExpirations.delete(key);
  }
}
