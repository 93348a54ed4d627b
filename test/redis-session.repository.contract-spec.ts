import { randomBytes } from 'node:crypto';
import { FakeClock } from '../src/common/clock';
import { createRedisClient, RedisClient, waitUntilReady } from '../src/redis/redis-client';
import { RedisSessionRepository } from '../src/sessions/stores/redis/redis-session.repository';
import { SessionPolicy } from '../src/sessions/session';
import { newSessionId, userShard } from '../src/sessions/session-id';
import {
  CONTRACT_POLICY,
  sessionRepositoryContract,
} from './contracts/session-repository.contract';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import { describeWithRedis } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

describeWithRedis('RedisSessionRepository on one Redis server', (url) => {
  const prefix = randomKeyPrefix('sessions');
  let client: RedisClient;

  beforeAll(async () => {
    client = createRedisClient(url);
    if (!(await waitUntilReady(client, 5000))) throw new Error(`Redis at ${url} is not ready`);
  });

  afterAll(async () => {
    await deleteKeysWithPrefix(client, prefix);
    await client.quit();
  });

  sessionRepositoryContract(
    'RedisSessionRepository',
    ({ policy, clock }) => ({
      repository: new RedisSessionRepository(client, policy, clock, prefix),
      close: async () => undefined,
    }),
    { boundedCapacity: false },
  );

  describe('keys in Redis', () => {
    const userId = () => `user-${Math.random().toString(36).slice(2)}`;
    const repository = (clock: FakeClock, policy: Partial<SessionPolicy> = {}) =>
      new RedisSessionRepository(client, { ...CONTRACT_POLICY, ...policy }, clock, prefix);
    const newSession = (user: string) => ({
      id: newSessionId(user),
      userId: user,
      fingerprintHash: 'f'.repeat(43),
      refreshHash: 'r'.repeat(43),
      ipAddress: '203.0.113.7',
      userAgent: 'Mozilla/5.0',
      location: { country: 'GB' },
    });

    it("keeps a session as a hash of short fields beside the user's index, under one hash tag", async () => {
      const user = userId();
      const input = newSession(user);
      await repository(new FakeClock()).create(input);
      const tag = `{${userShard(user)}}`;
      const sessionKey = `${prefix}${tag}:s:${input.id}`;
      const indexKey = `${prefix}${tag}:u:${user}`;
      expect(await client.hgetall(sessionKey)).toEqual({
        u: user,
        f: input.fingerprintHash,
        r: input.refreshHash,
        ip: '203.0.113.7',
        ua: 'Mozilla/5.0',
        lo: 'GB',
        ca: expect.stringMatching(/^\d+$/),
        la: expect.stringMatching(/^\d+$/),
        ie: expect.stringMatching(/^\d+$/),
        ae: expect.stringMatching(/^\d+$/),
      });
      expect(await client.zrange(indexKey, '0', '-1')).toEqual([input.id]);
    });

    it('lets keys expire by themselves: the session at its idle or absolute expiry, the index after its longest member', async () => {
      const clock = new FakeClock();
      const store = repository(clock, { idleTtl: 30 * 60, absoluteTtl: 40 * 60 });
      const user = userId();
      const input = newSession(user);
      await store.create(input);
      const tag = `{${userShard(user)}}`;
      const sessionKey = `${prefix}${tag}:s:${input.id}`;
      const indexKey = `${prefix}${tag}:u:${user}`;
      const ttl = async (key: string) => client.ttl(key);
      expect(await ttl(sessionKey)).toBeGreaterThan(30 * 60 - 5);
      expect(await ttl(sessionKey)).toBeLessThanOrEqual(30 * 60);
      expect(await ttl(indexKey)).toBeGreaterThanOrEqual(await ttl(sessionKey));

      // 20 minutes on, activity slides the idle expiry only up to the absolute one: 20 minutes left.
      clock.advance(20 * 60_000);
      await store.touch(input.id, '203.0.113.7', 'Mozilla/5.0');
      expect(await ttl(sessionKey)).toBeGreaterThan(20 * 60 - 5);
      expect(await ttl(sessionKey)).toBeLessThanOrEqual(20 * 60);
      // The index never shortens below what it held.
      expect(await ttl(indexKey)).toBeGreaterThan(30 * 60 - 5);
    });

    it('shares sessions between instances: what one creates or revokes, another sees at once', async () => {
      const other = createRedisClient(url, { connectionName: 'fingerprint-auth-test-b' });
      try {
        await waitUntilReady(other, 5000);
        const clock = new FakeClock();
        const a = repository(clock);
        const b = new RedisSessionRepository(other, CONTRACT_POLICY, clock, prefix);
        const user = userId();
        const input = newSession(user);
        await a.create(input);
        expect((await b.findById(input.id))?.userId).toBe(user);
        expect((await b.revoke(input.id, user))?.id).toBe(input.id);
        expect(await a.findById(input.id)).toBeNull();
      } finally {
        await other.quit();
      }
    });

    it('answers a refresh whose reply a dropped connection lost as rotated when ioredis sends it again', async () => {
      const redis = new URL(url);
      const proxy = await TcpProxy.start({
        host: redis.hostname,
        port: Number(redis.port || 6379),
      });
      const proxied = createRedisClient(`redis://127.0.0.1:${proxy.port}`, {
        connectionName: 'fingerprint-auth-test-lost-reply',
      });
      try {
        expect(await waitUntilReady(proxied, 5000)).toBe(true);
        const clock = new FakeClock();
        const store = new RedisSessionRepository(proxied, CONTRACT_POLICY, clock, prefix);
        const randomHash = () => randomBytes(32).toString('base64url');
        const rotationOf = (presentedHash: string) => ({
          presentedHash,
          nextRefreshHash: randomHash(),
          nextFingerprintHash: randomHash(),
          ipAddress: '203.0.113.7',
          userAgent: 'Mozilla/5.0',
        });
        // A first rotation loads the script, so the answer lost below is the script's own.
        const warm = newSession(userId());
        await store.create(warm);
        expect((await store.rotateRefresh(warm.id, rotationOf(warm.refreshHash))).kind).toBe(
          'rotated',
        );
        const input = newSession(userId());
        await store.create(input);
        const rotation = rotationOf(input.refreshHash);
        const lost = proxy.loseNextReply();
        const outcome = await store.rotateRefresh(input.id, rotation);
        await lost;
        // Run twice by Redis (once per connection), answered once: as the rotation it was.
        expect(outcome).toMatchObject({ kind: 'rotated', session: { id: input.id } });
        const stored = await store.findById(input.id);
        expect(stored).toMatchObject({
          refreshHash: rotation.nextRefreshHash,
          previousRefreshHash: input.refreshHash,
          fingerprintHash: rotation.nextFingerprintHash,
        });
      } finally {
        proxied.disconnect();
        await proxy.close();
      }
    });

    it("refuses an id that does not carry the user's shard", async () => {
      const input = { ...newSession(userId()), id: newSessionId('somebody-else') };
      await expect(repository(new FakeClock()).create(input)).rejects.toThrow(/newSessionId/);
    });
  });
});
