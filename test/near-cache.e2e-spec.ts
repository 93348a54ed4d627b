import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  createRedisClient,
  RedisClient,
  redisNodes,
  waitUntilReady,
} from '../src/redis/redis-client';
import { TEST_SECRET } from './support/app';
import { Answer, HttpClient, PASSWORD } from './support/http-client';
import { findSample, sample } from './support/metrics';
import { ServiceProcess, startService } from './support/process';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import { describeWithRedis } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

/** Loopback ports: instance A, instance B, and the proxy B reaches Redis through. */
const PORTS = { a: 8500, b: 8501, proxy: 8502 };
/** Requests a poll makes at most (10 ms apart): far more than a message takes on loopback. */
const POLLS = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniqueEmail = () => `nc-${randomBytes(6).toString('hex')}@example.com`;

/** A's and B's view of their caches, from their /metrics. */
async function metricsOf(service: ServiceProcess) {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const lookups = (cache: string, result: string) =>
    sample(text, 'fpa_cache_lookups_total', { cache, result });
  return {
    channelUp: findSample(text, 'fpa_invalidation_channel_up'),
    sessionHits: lookups('sessions', 'hit'),
    sessionBypasses: lookups('sessions', 'bypass'),
    userHits: lookups('users', 'hit'),
    userBypasses: lookups('users', 'bypass'),
  };
}

/** Polls B's metrics (bounded) until its invalidation channel reports `up` (1) or not (0). */
async function untilChannel(service: ServiceProcess, up: 0 | 1): Promise<void> {
  for (let attempt = 0; attempt < POLLS; attempt++) {
    if ((await metricsOf(service)).channelUp === up) return;
    await sleep(10);
  }
  throw new Error(`the invalidation channel did not report ${up} within ${POLLS} polls`);
}

/**
 * `GET /auth/me` on `service` until it answers 401 (bounded), then five times more; every
 * answer in order. A revocation reaches another instance as a message: within the channel's
 * 100 ms lease (measured by bench/revocation.bench.ts), not by the time the revoking request
 * returns, so a 200 before the first 401 is allowed here; a 200 after it is not.
 */
async function answersUntilRefused(client: HttpClient, service: ServiceProcess) {
  const statuses: number[] = [];
  for (let attempt = 0; attempt < POLLS; attempt++) {
    statuses.push((await client.request(service, 'GET', '/auth/me')).status);
    if (statuses.at(-1) !== 200) break;
    await sleep(10);
  }
  for (let more = 0; more < 5; more++) {
    statuses.push((await client.request(service, 'GET', '/auth/me')).status);
  }
  return statuses;
}

const expectRefusedForGood = (statuses: number[]) => {
  const first = statuses.indexOf(401);
  expect(first).toBeGreaterThanOrEqual(0);
  expect(statuses.slice(0, first).every((status) => status === 200)).toBe(true);
  expect(statuses.slice(first)).toEqual(Array(statuses.length - first).fill(401));
};

const ok = (answer: Answer) => expect(answer.status).toBeLessThan(300);

describeWithRedis('the near cache across two service processes (e2e)', (redisUrl) => {
  const prefix = randomKeyPrefix('nc-e2e');
  const dir = mkdtempSync(join(tmpdir(), 'fpa-near-cache-'));
  let admin: RedisClient;
  let proxy: TcpProxy;
  let a: ServiceProcess;
  let b: ServiceProcess;

  beforeAll(async () => {
    admin = createRedisClient(redisUrl, { connectionName: 'fingerprint-auth-test-admin' });
    await waitUntilReady(admin, 5000);
    const { hostname, port } = redisNodes(redisUrl)[0];
    proxy = await TcpProxy.start({ host: hostname, port: Number(port || 6379) }, PORTS.proxy);
    const env = {
      NODE_ENV: 'test',
      JWT_SECRET: TEST_SECRET,
      COOKIE_SECURE: 'false',
      GEOIP: 'off',
      SESSION_STORE: 'redis',
      REDIS_KEY_PREFIX: prefix,
      // Instances sharing sessions share their users: one SQLite file (WAL) for both.
      DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '100',
    };
    // One after the other: the first creates the tables.
    a = await startService({ ...env, REDIS_URL: redisUrl }, PORTS.a);
    // Everything B sends to Redis goes through the proxy, its subscription included.
    b = await startService({ ...env, REDIS_URL: `redis://127.0.0.1:${proxy.port}` }, PORTS.b);
    await untilChannel(a, 1);
    await untilChannel(b, 1);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await proxy?.close();
    await deleteKeysWithPrefix(admin, prefix);
    await admin.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Registered and signed in on A, on three devices, each then asked B until B answered it from
   * memory (session and user): the first request reads them, the second usually finds them kept,
   * unless B's channel let its lease lapse in between (a busy machine can stall a process for
   * longer than 100 ms; B then reads from the stores, as it must), hence the bounded retries.
   */
  async function devicesKeptOnB() {
    const email = uniqueEmail();
    const [laptop, phone, tablet] = [new HttpClient(), new HttpClient(), new HttpClient()];
    ok(await laptop.register(a, email));
    for (const device of [laptop, phone, tablet]) ok(await device.login(a, email));
    for (const device of [laptop, phone, tablet]) {
      const before = await metricsOf(b);
      let after = before;
      for (let attempt = 0; attempt < 20; attempt++) {
        expect((await device.request(b, 'GET', '/auth/me')).status).toBe(200);
        after = await metricsOf(b);
        if (after.sessionHits > before.sessionHits && after.userHits > before.userHits) break;
      }
      expect(after.sessionHits).toBeGreaterThan(before.sessionHits);
      expect(after.userHits).toBeGreaterThan(before.userHits);
    }
    return { email, laptop, phone, tablet };
  }

  it('refuses on B, for good, a session A revoked, and leaves the others alone', async () => {
    const { laptop, phone } = await devicesKeptOnB();
    ok(await phone.request(a, 'DELETE', `/sessions/${laptop.sessionId}`));
    expectRefusedForGood(await answersUntilRefused(laptop, b));
    expect((await phone.request(b, 'GET', '/auth/me')).status).toBe(200);
  });

  it("refuses on B the other sessions a password change on A ended, and a refresh's old token", async () => {
    const { laptop, phone, tablet } = await devicesKeptOnB();
    const changed = await laptop.request(a, 'POST', '/auth/password', {
      currentPassword: PASSWORD,
      newPassword: 'another correct horse battery',
    });
    expect(changed).toMatchObject({ status: 200, body: { revoked: 2 } });
    expectRefusedForGood(await answersUntilRefused(phone, b));
    expectRefusedForGood(await answersUntilRefused(tablet, b));
    expect((await laptop.request(b, 'GET', '/auth/me')).status).toBe(200);

    // The rotation on A gives the session a new fingerprint: the old token and cookie stop.
    const old = laptop.copy();
    ok(await laptop.refresh(a));
    expectRefusedForGood(await answersUntilRefused(old, b));
    expect((await laptop.request(b, 'GET', '/auth/me')).status).toBe(200);
  });

  it('refuses on B an account deleted on A', async () => {
    const { laptop, phone } = await devicesKeptOnB();
    const kept = laptop.copy();
    ok(await laptop.request(a, 'DELETE', '/account', { password: PASSWORD }));
    expectRefusedForGood(await answersUntilRefused(phone, b));
    expectRefusedForGood(await answersUntilRefused(kept, b));
  });

  it("fails closed while B's invalidation connection is down: what A ends meanwhile B refuses at once; the cache answers again once it is back", async () => {
    const { laptop, phone, tablet } = await devicesKeptOnB();

    // Kill B's subscription on the Redis side, and keep it from coming back (the proxy refuses
    // new connections; B's command connection, already open, goes on working).
    proxy.refuseNew();
    const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const ours = clients
      .split('\n')
      .filter((line) =>
        proxy.serverSidePorts().some((port) => line.includes(`addr=127.0.0.1:${port} `)),
      );
    expect(ours).toHaveLength(1);
    const id = /\bid=(\d+)/.exec(ours[0])?.[1] as string;
    expect(await admin.call('CLIENT', 'KILL', 'ID', id)).toBe(1);
    await untilChannel(b, 0);

    const before = await metricsOf(b);
    ok(await phone.request(a, 'DELETE', `/sessions/${laptop.sessionId}`));
    // No message reaches B, and none has to: its very next request asks Redis.
    expect((await laptop.request(b, 'GET', '/auth/me')).status).toBe(401);
    expect((await phone.request(b, 'GET', '/auth/me')).status).toBe(200);
    // What the tablet held before the deletion cleared its cookies.
    const deleting = tablet.copy();
    ok(await deleting.request(a, 'DELETE', '/account', { password: PASSWORD }));
    expect((await phone.request(b, 'GET', '/auth/me')).status).toBe(401);
    expect((await tablet.request(b, 'GET', '/auth/me')).status).toBe(401);
    const during = await metricsOf(b);
    expect(during.sessionHits).toBe(before.sessionHits);
    expect(during.sessionBypasses - before.sessionBypasses).toBe(4);
    // The phone's 200 needed its user twice (the guard, then /auth/me): read from the database.
    expect(during.userHits).toBe(before.userHits);
    expect(during.userBypasses - before.userBypasses).toBe(2);

    await proxy.restore();
    await untilChannel(b, 1);
    const { laptop: again } = await devicesKeptOnB();
    ok(await again.copy().request(a, 'POST', '/auth/logout'));
    expectRefusedForGood(await answersUntilRefused(again, b));
  });
});
