import { randomBytes } from 'node:crypto';
import { StoreUnavailableError } from '../src/common/errors';
import type Redis from 'ioredis';
import { createRedisClient, waitUntilReady } from '../src/redis/redis-client';
import { RedisRateLimitStorage } from '../src/rate-limit/redis-rate-limit.storage';
import { rateLimitStorageContract, WINDOW } from './contracts/rate-limit-storage.contract';
import { deleteKeysWithPrefix, keysWithPrefix } from './support/redis';
import { describeWithRedis } from './support/services';

describeWithRedis('RateLimitStorage contract: RedisRateLimitStorage', (url) => {
  const prefix = `fpa-test-${randomBytes(6).toString('hex')}:ratelimit:`;
  rateLimitStorageContract(async () => {
    const client = createRedisClient(url);
    await waitUntilReady(client, 5000);
    const storage = new RedisRateLimitStorage(client, prefix);
    return { storage, close: async () => void (await client.quit()) };
  });

  afterAll(async () => {
    const cleaner = createRedisClient(url) as Redis;
    await waitUntilReady(cleaner, 5000);
    await deleteKeysWithPrefix(cleaner, prefix);
    await cleaner.quit();
  });

  it('keeps every key under the prefix', async () => {
    const client = createRedisClient(url) as Redis;
    await waitUntilReady(client, 5000);
    const storage = new RedisRateLimitStorage(client, prefix);
    await storage.increment('login:account:some-hash', WINDOW, 5, WINDOW, 'account');
    const keys = await keysWithPrefix(client, prefix);
    expect(keys).toContain(`${prefix}{login:account:some-hash:account}:hits`);
    expect(keys.every((key) => key.startsWith(prefix))).toBe(true);
    await client.quit();
  });

  it('fails with StoreUnavailableError, never a pass, when Redis does not answer', async () => {
    // Nothing listens on this loopback port (one of this suite's 7700-7749).
    const client = createRedisClient('redis://127.0.0.1:7749');
    const storage = new RedisRateLimitStorage(client, prefix);
    await expect(storage.increment('k', WINDOW, 5, WINDOW, 'ip')).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    await expect(storage.reset('k', 'ip')).rejects.toBeInstanceOf(StoreUnavailableError);
    client.disconnect();
  });
});
