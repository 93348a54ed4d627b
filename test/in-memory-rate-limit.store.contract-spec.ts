import { InMemoryRateLimitStore } from '../src/rate-limit/in-memory-rate-limit.store';
import { rateLimitStoreContract } from './contracts/rate-limit-store.contract';

describe('RateLimitStore contract: InMemoryRateLimitStore', () => {
  rateLimitStoreContract(async () => ({
    store: new InMemoryRateLimitStore(),
    close: async () => undefined,
  }));
});
