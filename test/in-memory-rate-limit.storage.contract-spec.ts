import { InMemoryRateLimitStorage } from '../src/rate-limit/in-memory-rate-limit.storage';
import { rateLimitStorageContract } from './contracts/rate-limit-storage.contract';

describe('RateLimitStorage contract: InMemoryRateLimitStorage', () => {
  rateLimitStorageContract(async () => {
    const storage = new InMemoryRateLimitStorage();
    return { storage, close: async () => storage.onApplicationShutdown() };
  });
});
