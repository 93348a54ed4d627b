import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { StoreUnavailableError } from '../src/common/errors';
import { createRedisClient, waitUntilReady } from '../src/redis/redis-client';
import { RedisRateLimitStore } from '../src/rate-limit/redis-rate-limit.store';
import { rateLimitStoreContract, rule } from './contracts/rate-limit-store.contract';
import { deleteKeysWithPrefix, keysWithPrefix } from './support/redis';
import { describeWithRedis } from './support/services';

describeWithRedis('RateLimitStore contract: RedisRateLimitStore', (url) => {
  const prefix = `fpa-test-${randomBytes(6).toString('hex')}:ratelimit:`;
  rateLimitStoreContract(async () => {
    const client = createRedisClient(url);
    await waitUntilReady(client, 5000);
    return {
      store: new RedisRateLimitStore(client, prefix),
      close: async () => void (await client.quit()),
    };
  });

  afterAll(async () => {
    const cleaner = createRedisClient(url) as Redis;
    await waitUntilReady(cleaner, 5000);
    await deleteKeysWithPrefix(cleaner, prefix);
    await cleaner.quit();
  });

  it('keeps every key under the prefix, one per rule and key, with the window as its TTL', async () => {
    const client = createRedisClient(url) as Redis;
    await waitUntilReady(client, 5000);
    const store = new RedisRateLimitStore(client, prefix);
    const limit = rule(5);
    await store.consume(limit, 'some-hash');
    const keys = await keysWithPrefix(client, prefix);
    expect(keys).toContain(`${prefix}${limit.name}:some-hash`);
    expect(keys.every((key) => key.startsWith(prefix))).toBe(true);
    const ttl = await client.ttl(`${prefix}${limit.name}:some-hash`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(limit.windowSeconds);
    await client.quit();
  });

  it('fails with StoreUnavailableError, never a pass, when Redis does not answer', async () => {
    // Nothing listens on this loopback port (one of this suite's 7700-7749).
    const client = createRedisClient('redis://127.0.0.1:7749');
    const store = new RedisRateLimitStore(client, prefix);
    await expect(store.consume(rule(5), 'k')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.reset(rule(5), 'k')).rejects.toBeInstanceOf(StoreUnavailableError);
    client.disconnect();
  });
});
