import jwt from 'jsonwebtoken';
import type { LightMyRequestResponse } from 'fastify';
import { FakeClock } from '../src/common/clock';
import { StoreUnavailableError } from '../src/common/errors';
import { createRedisClient, waitUntilReady } from '../src/redis/redis-client';
import { RedisSessionRepository } from '../src/sessions/stores/redis/redis-session.repository';
import { newSessionId } from '../src/sessions/session-id';
import { startApp, TEST_SECRET, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';
import { findSample } from './support/metrics';
import { randomKeyPrefix } from './support/redis';
import { describeWithRedisServer, redisCommand, startRedisServer } from './support/redis-servers';

const PASSWORD = 'correct horse battery staple';
const PORT = 7330;
/** Long enough for every outage check below, which all run at once right after the pause. */
const PAUSE_MS = 8000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 503 that says to retry, in Nest's error shape, with nothing internal in it. */
function expectUnavailable(response: LightMyRequestResponse, what: string): void {
  expect({ what, status: response.statusCode }).toEqual({ what, status: 503 });
  expect(response.headers['retry-after']).toMatch(/^\d+$/);
  // Sessions and rate-limit counters share the Redis: whichever a route asks first reports it.
  expect(response.json()).toEqual({
    statusCode: 503,
    error: 'Service Unavailable',
    message: expect.stringMatching(/^The (sessions|rate-limit) store is unavailable$/),
    code: 'STORE_UNAVAILABLE',
  });
  expect(response.headers['set-cookie']).toBeUndefined();
}

/** A correctly signed token with the client's fingerprint, naming a session that never existed. */
function unknownSessionClient(target: TestApp, client: TestClient): TestClient {
  const claims = jwt.decode(client.accessToken as string) as { sub: string; fgp: string };
  const forged = new TestClient(target);
  forged.accessToken = jwt.sign({ sid: newSessionId(claims.sub), fgp: claims.fgp }, TEST_SECRET, {
    algorithm: 'HS256',
    subject: claims.sub,
    issuer: 'fingerprint-auth',
    expiresIn: 600,
  });
  forged.cookies.set(
    '__Host-Fgp',
    client.cookies.get('__Host-Fgp') as { value: string; path: string },
  );
  return forged;
}

/**
 * Polls (bounded) until readiness is back, then until a fresh login and a guarded request with it
 * succeed. Readiness first: it only pings, so polling it leaves nothing queued in a paused Redis.
 */
async function waitForRecovery(target: TestApp, email: string): Promise<TestClient> {
  for (let attempt = 0; attempt < 150; attempt++) {
    const ready = await target.inject({ method: 'GET', url: '/health/ready' });
    if (ready.statusCode === 200) {
      const client = new TestClient(target);
      const login = await client.post('/auth/login', { email, password: PASSWORD });
      if (login.statusCode === 200) {
        client.accessToken = login.json().accessToken;
        client.sessionId = login.json().sessionId;
        if ((await client.get('/auth/me')).statusCode === 200) return client;
      } else {
        expect(login.statusCode).toBe(503);
      }
    } else {
      expect(ready.statusCode).toBe(503);
    }
    await sleep(200);
  }
  throw new Error('the service did not recover after Redis came back');
}

/**
 * Waits (bounded) until the app's invalidation channel reports down, and so its in-process caches
 * stand aside: a session validated a moment ago may be answered from memory until then (at most
 * the channel's 100 ms lease; nothing can be revoked meanwhile, Redis runs no write), never a
 * revoked or unknown one.
 */
async function untilCachesBypassed(target: TestApp): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const metrics = await target.inject({ method: 'GET', url: '/metrics' });
    if (findSample(metrics.body, 'fpa_invalidation_channel_up') === 0) return;
    await sleep(20);
  }
  throw new Error('the invalidation channel still reports up');
}

/** Waits (bounded) until the paused server answers PING again. */
async function waitForPauseToEnd(): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (
      await redisCommand(PORT, 'PING').then(
        (reply) => reply === '+PONG',
        () => false,
      )
    )
      return;
    await sleep(100);
  }
  throw new Error('the Redis server stayed paused');
}

describeWithRedisServer('Redis outage (e2e)', () => {
  let target: TestApp;
  let server: Awaited<ReturnType<typeof startRedisServer>>;

  beforeAll(async () => {
    server = await startRedisServer(PORT);
    target = await startApp({
      SESSION_STORE: 'redis',
      REDIS_URL: server.url,
      REDIS_KEY_PREFIX: randomKeyPrefix('fault'),
    });
  });

  afterAll(async () => {
    await target?.close();
    await server?.stop();
  });

  it('answers 503 with Retry-After while Redis does not answer, lets nothing through, and recovers by itself', async () => {
    const email = `fault-${Math.random().toString(36).slice(2)}@example.com`;
    const client = await signedInClient(target, email, PASSWORD);
    // Revoked from another device, so it still holds its token and fingerprint cookie.
    const revoked = await signedInClient(target, email, PASSWORD);
    expect((await client.delete(`/sessions/${revoked.sessionId}`)).statusCode).toBe(204);
    const unknown = unknownSessionClient(target, client);
    expect((await unknown.get('/auth/me')).statusCode).toBe(401);
    expect((await target.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);

    expect(await redisCommand(PORT, `CLIENT PAUSE ${PAUSE_MS} ALL`)).toBe('+OK');
    // Neither is kept in memory (the revoked one went when it was revoked): never a pass.
    for (const [what, response] of Object.entries({
      revokedMe: await revoked.get('/auth/me'),
      unknownMe: await unknown.get('/auth/me'),
    })) {
      expectUnavailable(response, what);
    }
    await untilCachesBypassed(target);
    const [me, sessions, login, refresh, ready, revokedMe, unknownMe] = await Promise.all([
      client.get('/auth/me'),
      client.get('/sessions'),
      target.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } }),
      client.refresh(),
      target.inject({ method: 'GET', url: '/health/ready' }),
      revoked.get('/auth/me'),
      unknown.get('/auth/me'),
    ]);
    const answers = { me, sessions, login, refresh, revokedMe, unknownMe };
    for (const [what, response] of Object.entries(answers)) expectUnavailable(response, what);
    expect(ready.statusCode).toBe(503);
    expect(ready.json().details.sessionStore.status).toBe('down');

    const fresh = await waitForRecovery(target, email);
    expect((await fresh.get('/auth/me')).statusCode).toBe(200);
    // Redis kept its data through the pause: the old session lives, the revoked one stays dead,
    // and the login that answered 503 left no session behind when Redis ran it late.
    expect((await client.get('/auth/me')).statusCode).toBe(200);
    const listed = (await fresh.get('/sessions')).json<{ sessions: { id: string }[] }>();
    expect(listed.sessions.map((s) => s.id).sort()).toEqual(
      [client.sessionId, fresh.sessionId].sort(),
    );
    expect((await revoked.get('/auth/me')).statusCode).toBe(401);
    expect((await unknown.get('/auth/me')).statusCode).toBe(401);
    expect((await target.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });

  it('does not apply a login or refresh that timed out when Redis runs it later', async () => {
    const redis = createRedisClient(server.url);
    try {
      expect(await waitUntilReady(redis, 5000)).toBe(true);
      const clock = new FakeClock(Date.now());
      const policy = {
        idleTtl: 1800,
        absoluteTtl: 28_800,
        maxPerUser: 2,
        limitPolicy: 'evict-oldest' as const,
        refreshGracePeriod: 10,
      };
      const repository = new RedisSessionRepository(redis, policy, clock, randomKeyPrefix('late'));
      const userId = `late-${Math.random().toString(36).slice(2)}`;
      const session = () => ({
        id: newSessionId(userId),
        userId,
        fingerprintHash: 'f'.repeat(43),
        refreshHash: `${Math.random().toString(36).slice(2)}`.padEnd(43, 'r'),
        ipAddress: '203.0.113.7',
        userAgent: 'Mozilla/5.0',
        location: null,
      });
      const oldest = session();
      await repository.create(oldest);
      clock.advance(60_000);
      const newer = session();
      await repository.create(newer);
      clock.advance(60_000);

      expect(await redisCommand(PORT, 'CLIENT PAUSE 5000 ALL')).toBe('+OK');
      const late = session();
      const [created, rotated] = await Promise.allSettled([
        // At the limit: applied late, this would evict `oldest`.
        repository.create(late),
        repository.rotateRefresh(oldest.id, {
          presentedHash: oldest.refreshHash,
          nextRefreshHash: 'n'.repeat(43),
          nextFingerprintHash: 'g'.repeat(43),
          ipAddress: '203.0.113.7',
          userAgent: 'Mozilla/5.0',
        }),
      ]);
      for (const outcome of [created, rotated]) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
      }

      await waitForPauseToEnd();
      expect(await repository.findById(late.id)).toBeNull();
      expect(await repository.findById(oldest.id)).toMatchObject({
        refreshHash: oldest.refreshHash,
        fingerprintHash: oldest.fingerprintHash,
      });
      expect((await repository.listByUser(userId)).map((s) => s.id).sort()).toEqual(
        [oldest.id, newer.id].sort(),
      );
    } finally {
      redis.disconnect();
    }
  });

  it('answers 503 while the Redis process is gone and recovers when it is back', async () => {
    const email = `gone-${Math.random().toString(36).slice(2)}@example.com`;
    const client = await signedInClient(target, email, PASSWORD);
    const revoked = await signedInClient(target, email, PASSWORD);
    expect((await client.delete(`/sessions/${revoked.sessionId}`)).statusCode).toBe(204);

    await server.stop();
    await untilCachesBypassed(target);
    expectUnavailable(await client.get('/auth/me'), 'me');
    expectUnavailable(await revoked.get('/auth/me'), 'revoked me');
    expectUnavailable(await client.post('/sessions/logout-all'), 'logout-all');
    expectUnavailable(
      await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      }),
      'login',
    );
    expectUnavailable(await client.refresh(), 'refresh');
    expect((await target.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(503);

    server = await startRedisServer(PORT);
    const fresh = await waitForRecovery(target, email);
    expect((await fresh.get('/sessions')).statusCode).toBe(200);
    // Without persistence the restarted server has lost every session: the old token is refused.
    expect((await client.get('/auth/me')).statusCode).toBe(401);
    expect((await revoked.get('/auth/me')).statusCode).toBe(401);
    expect((await target.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });
});

describeWithRedisServer('Redis down when the service starts (e2e)', () => {
  const port = 7331;
  let target: TestApp | undefined;
  let server: Awaited<ReturnType<typeof startRedisServer>> | undefined;

  afterAll(async () => {
    await target?.close();
    await server?.stop();
  });

  it('starts anyway, answers 503 and reports not ready, then serves once Redis is up', async () => {
    target = await startApp({
      SESSION_STORE: 'redis',
      REDIS_URL: `redis://127.0.0.1:${port}`,
      REDIS_KEY_PREFIX: randomKeyPrefix('cold'),
    });
    const email = `cold-${Math.random().toString(36).slice(2)}@example.com`;
    // Registration is rate-limited, and its counters are in the Redis that is not there yet.
    expectUnavailable(await new TestClient(target).register(email, PASSWORD), 'register');
    expect((await target.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    expect((await target.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(503);
    expectUnavailable(
      await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      }),
      'login',
    );

    server = await startRedisServer(port);
    let registered = 503;
    for (let attempt = 0; attempt < 100 && registered === 503; attempt++) {
      registered = (await new TestClient(target).register(email, PASSWORD)).statusCode;
      if (registered === 503) await sleep(100);
    }
    expect(registered).toBe(201);
    const client = await waitForRecovery(target, email);
    expect((await client.get('/sessions')).statusCode).toBe(200);
  });
});
