import { once } from 'node:events';
import { createRedisClient, RedisClient, waitUntilReady } from '../src/redis/redis-client';
import { REDIS_CLIENT } from '../src/redis/redis-connection';
import { startApp, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import { describeWithRedis } from './support/services';
import { expectLimitHoldsUnderConcurrentLogins } from './support/session-limit';

const PASSWORD = 'correct horse battery staple';
const uniqueEmail = () => `r-${Math.random().toString(36).slice(2)}@example.com`;

interface SessionEntry {
  id: string;
  current: boolean;
  ipAddress: string;
  userAgent: string;
}

const listIds = async (client: TestClient) =>
  (await client.get('/sessions'))
    .json<{ sessions: SessionEntry[] }>()
    .sessions.map((s) => s.id)
    .sort();

describeWithRedis('sessions in Redis (e2e)', (url) => {
  const prefix = randomKeyPrefix('e2e');
  let admin: RedisClient;

  beforeAll(async () => {
    admin = createRedisClient(url, { connectionName: 'fingerprint-auth-test-admin' });
    await waitUntilReady(admin, 5000);
  });

  afterAll(async () => {
    await deleteKeysWithPrefix(admin, prefix);
    await admin.quit();
  });

  const redisApp = (overrides: Record<string, string> = {}) =>
    startApp({
      SESSION_STORE: 'redis',
      REDIS_URL: url,
      REDIS_KEY_PREFIX: prefix,
      TRUST_PROXY: 'true',
      ...overrides,
    });

  describe('one user on several devices', () => {
    let target: TestApp;

    beforeAll(async () => {
      target = await redisApp();
    });

    afterAll(async () => {
      await target.close();
    });

    async function devices() {
      const email = uniqueEmail();
      const laptop = await signedInClient(target, email, PASSWORD, {
        'user-agent': 'Laptop/1.0 ✓',
        'x-forwarded-for': '203.0.113.10',
      });
      const phone = new TestClient(target, {
        'user-agent': 'Phone/2.0',
        'x-forwarded-for': '198.51.100.20',
      });
      await phone.login(email, PASSWORD);
      const tablet = new TestClient(target, { 'user-agent': 'Tablet/3.0' });
      await tablet.login(email, PASSWORD);
      return { email, laptop, phone, tablet };
    }

    it('keeps the sessions in Redis under the configured prefix and reports it ready', async () => {
      const { laptop } = await devices();
      const keys = await admin.keys(`${prefix}*:s:${laptop.sessionId}`);
      expect(keys).toHaveLength(1);
      const ready = await target.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json().details.sessionStore).toMatchObject({ status: 'up', capacity: null });
    });

    it('lists every device, the caller marked current, with what each sent', async () => {
      const { laptop, phone, tablet } = await devices();
      const response = await phone.get('/sessions');
      expect(response.statusCode).toBe(200);
      const sessions = response.json<{ sessions: SessionEntry[] }>().sessions;
      expect(sessions.map((s) => s.id).sort()).toEqual(
        [laptop.sessionId, phone.sessionId, tablet.sessionId].sort(),
      );
      expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([phone.sessionId]);
      expect(sessions.find((s) => s.id === laptop.sessionId)).toMatchObject({
        ipAddress: '203.0.113.10',
        userAgent: 'Laptop/1.0 ✓',
      });
    });

    it('revokes one session: it is refused on its very next request, the others go on', async () => {
      const { laptop, phone, tablet } = await devices();
      expect((await laptop.delete(`/sessions/${phone.sessionId}`)).statusCode).toBe(204);
      expect((await phone.get('/auth/me')).statusCode).toBe(401);
      expect((await laptop.get('/auth/me')).statusCode).toBe(200);
      expect(await listIds(tablet)).toEqual([laptop.sessionId, tablet.sessionId].sort());
      expect((await laptop.delete(`/sessions/${phone.sessionId}`)).statusCode).toBe(404);
    });

    it("answers 404 for another user's session and leaves it alone", async () => {
      const alice = await signedInClient(target);
      const bob = await signedInClient(target);
      expect((await alice.delete(`/sessions/${bob.sessionId}`)).statusCode).toBe(404);
      expect((await bob.get('/auth/me')).statusCode).toBe(200);
    });

    it('logs out every other session', async () => {
      const { laptop, phone, tablet } = await devices();
      const response = await tablet.post('/sessions/logout-all');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ revoked: 2 });
      expect((await laptop.get('/auth/me')).statusCode).toBe(401);
      expect((await phone.get('/auth/me')).statusCode).toBe(401);
      expect(await listIds(tablet)).toEqual([tablet.sessionId]);
    });

    it('logs out the current session, and its refresh credential dies with it', async () => {
      const client = await signedInClient(target);
      const refresh = client.cookies.get('__Secure-Fpa-Refresh')?.value as string;
      expect((await client.post('/auth/logout')).statusCode).toBe(204);
      expect((await client.get('/auth/me')).statusCode).toBe(401);
      const replay = await target.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: { cookie: `__Secure-Fpa-Refresh=${refresh}` },
      });
      expect(replay.statusCode).toBe(401);
    });

    it('rotates the refresh credential, honours the grace period, and revokes on later reuse', async () => {
      const client = await signedInClient(target);
      const first = client.cookies.get('__Secure-Fpa-Refresh')?.value as string;
      const oldToken = client.accessToken;
      const rotated = await client.refresh();
      expect(rotated.statusCode).toBe(200);
      expect(rotated.json().sessionId).toBe(client.sessionId);
      expect(client.accessToken).not.toBe(oldToken);
      expect(client.cookies.get('__Secure-Fpa-Refresh')?.value).not.toBe(first);
      expect((await client.get('/auth/me')).statusCode).toBe(200);

      const otherTab = new TestClient(target);
      otherTab.cookies.set('__Secure-Fpa-Refresh', { value: first, path: '/auth/refresh' });
      const grace = await otherTab.refresh();
      expect(grace.statusCode).toBe(200);
      expect(grace.headers['set-cookie']).toBeUndefined();

      target.clock.advance(60_000);
      const thief = new TestClient(target);
      thief.cookies.set('__Secure-Fpa-Refresh', { value: first, path: '/auth/refresh' });
      expect((await thief.refresh()).statusCode).toBe(401);
      expect((await client.get('/auth/me')).statusCode).toBe(401);
      expect((await client.refresh()).statusCode).toBe(401);
    });

    it('closes its Redis connection when the application shuts down', async () => {
      const app = await redisApp();
      const client = app.app.get<RedisClient>(REDIS_CLIENT);
      expect(client.status).toBe('ready');
      await app.close();
      // QUIT was answered; the socket closes right after (jest's timeout bounds the wait).
      if (client.status !== 'end') await once(client, 'end');
      expect(client.status).toBe('end');
    });
  });

  describe.each(['evict-oldest', 'reject'] as const)('per-user limit, %s', (policy) => {
    let target: TestApp;

    beforeAll(async () => {
      target = await redisApp({ SESSION_LIMIT_POLICY: policy, MAX_SESSIONS_PER_USER: '5' });
    });

    afterAll(async () => {
      await target.close();
    });

    it('holds exactly 5 under 20 simultaneous logins', async () => {
      const email = uniqueEmail();
      await new TestClient(target).register(email, PASSWORD);
      await expectLimitHoldsUnderConcurrentLogins(target, { email, password: PASSWORD }, policy, 5);
    });
  });
});
