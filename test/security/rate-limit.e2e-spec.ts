import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type Redis from 'ioredis';
import { AppModule } from '../../src/app.module';
import { configureApp, fastifyAdapter } from '../../src/http/bootstrap';
import { FakeClock } from '../../src/common/clock';
import { openApiDocument } from '../../src/http/openapi';
import { SqlDatabase } from '../../src/database/database';
import { SQL_DATABASE } from '../../src/database/database-connection';
import { REDIS_CLIENT } from '../../src/redis/redis-connection';
import { rateLimitsDb } from '../../src/rate-limit/sql-rate-limit.schema';
import { SessionCleanupJob } from '../../src/sessions/session-cleanup.job';
import { Turns } from '../../src/common/turns';
import { InMemorySessionRepository } from '../../src/sessions/stores/memory/in-memory-session.repository';
import { SessionRepository } from '../../src/sessions/session.repository';
import { sessionPolicy } from '../../src/sessions/sessions.module';
import { startApp, testEnv, TestApp } from '../support/app';
import { signedInClient, TestClient } from '../support/client';
import { checkResponsesAgainst } from '../support/documented-responses';
import { deleteKeysWithPrefix, keysWithPrefix } from '../support/redis';
import { describeWithRedisServer, RedisServer, startRedisServer } from '../support/redis-servers';
import { ThrowawayDatabases } from '../support/postgres';
import { describeWithPostgres, describeWithRedis } from '../support/services';

const PASSWORD = 'correct horse battery staple';
const TOO_MANY = {
  statusCode: 429,
  error: 'Too Many Requests',
  message: 'Too many attempts; try again later',
  code: 'RATE_LIMITED',
};
const uniqueEmail = () => `rl-${randomBytes(6).toString('hex')}@example.com`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Target = Pick<TestApp, 'inject'>;

const login = (target: Target, email: string, password: string, ip?: string) =>
  target.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
    headers: ip ? { 'x-forwarded-for': ip } : {},
  });

const register = (target: Target, email: string, ip?: string) =>
  target.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password: PASSWORD },
    headers: ip ? { 'x-forwarded-for': ip } : {},
  });

function expectTooMany(response: LightMyRequestResponse, windowSeconds = 900): void {
  expect({ status: response.statusCode, body: response.json() }).toEqual({
    status: 429,
    body: TOO_MANY,
  });
  const retryAfter = Number(response.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(response.headers['set-cookie']).toBeUndefined();
  expect(response.body).not.toContain('accessToken');
}

describe('rate limits (e2e, in-memory counters)', () => {
  describe('login, behind a trusted proxy', () => {
    let target: TestApp;

    beforeAll(async () => {
      target = await startApp({
        TRUST_PROXY: 'true',
        RATE_LIMIT_LOGIN_PER_ACCOUNT: '3',
        RATE_LIMIT_LOGIN_PER_IP: '5',
      });
    });

    afterAll(() => target.close());

    it('blocks an account after its limit even from fresh addresses, the right password too', async () => {
      const email = uniqueEmail();
      const owner = await signedInClient(target, email, PASSWORD, {
        'x-forwarded-for': '198.51.100.1',
      });
      for (let i = 0; i < 3; i++) {
        const wrong = await login(target, email, `wrong guess ${i}`, `203.0.113.${10 + i}`);
        expect(wrong.statusCode).toBe(401);
      }
      const blocked = await login(target, email, PASSWORD, '203.0.113.99');
      expectTooMany(blocked);
      // Nothing was stored: the owner's device list still holds one session.
      const sessions = await owner.get('/sessions');
      expect(sessions.json().sessions).toHaveLength(1);
      // Another account from one of the same addresses is not affected.
      const other = uniqueEmail();
      expect((await register(target, other, '203.0.113.50')).statusCode).toBe(201);
      expect((await login(target, other, PASSWORD, '203.0.113.10')).statusCode).toBe(200);
    });

    it('forgets the failures of an account once it logs in successfully', async () => {
      const email = uniqueEmail();
      expect((await register(target, email, '198.51.100.2')).statusCode).toBe(201);
      // Nine attempts, three times the limit, none blocked: each success clears the counter.
      for (let round = 0; round < 3; round++) {
        const ip = `198.51.100.${20 + round}`;
        expect((await login(target, email, 'not it', ip)).statusCode).toBe(401);
        expect((await login(target, email, 'not it either', ip)).statusCode).toBe(401);
        expect((await login(target, email, PASSWORD, ip)).statusCode).toBe(200);
      }
      for (let i = 0; i < 3; i++) {
        expect((await login(target, email, 'nope', `198.51.100.${30 + i}`)).statusCode).toBe(401);
      }
      expectTooMany(await login(target, email, PASSWORD, '198.51.100.40'));
    });

    it('blocks one address after its limit across accounts, and only that address', async () => {
      const ip = '192.0.2.77';
      for (let i = 0; i < 5; i++) {
        expect((await login(target, uniqueEmail(), 'whatever pass', ip)).statusCode).toBe(401);
      }
      expectTooMany(await login(target, uniqueEmail(), 'whatever pass', ip));
      expect((await login(target, uniqueEmail(), 'whatever pass', '192.0.2.78')).statusCode).toBe(
        401,
      );
    });

    it('counts bodies without an email against the address, and answers them 400', async () => {
      const ip = '192.0.2.90';
      for (let i = 0; i < 5; i++) {
        const response = await target.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email: { $ne: '' }, password: 'x' },
          headers: { 'x-forwarded-for': ip },
        });
        expect(response.statusCode).toBe(400);
      }
      expectTooMany(await login(target, uniqueEmail(), 'whatever pass', ip));
    });
  });

  describe('login, without a trusted proxy (TRUST_PROXY=false)', () => {
    let target: TestApp;

    beforeAll(async () => {
      target = await startApp({ RATE_LIMIT_LOGIN_PER_IP: '3' });
    });

    afterAll(() => target.close());

    it('ignores X-Forwarded-For: rotating it buys no attempts', async () => {
      for (let i = 0; i < 3; i++) {
        const response = await login(target, uniqueEmail(), 'guess', `203.0.113.${i + 1}`);
        expect(response.statusCode).toBe(401);
      }
      expectTooMany(await login(target, uniqueEmail(), 'guess', '203.0.113.200'));
    });
  });

  describe('windows expire', () => {
    let target: TestApp;

    beforeAll(async () => {
      target = await startApp({ RATE_LIMIT_WINDOW: '1', RATE_LIMIT_LOGIN_PER_ACCOUNT: '1' });
    });

    afterAll(() => target.close());

    it('lets the real user in once Retry-After has passed', async () => {
      const email = uniqueEmail();
      expect((await register(target, email)).statusCode).toBe(201);
      expect((await login(target, email, 'wrong password')).statusCode).toBe(401);
      const blocked = await login(target, email, PASSWORD);
      expectTooMany(blocked, 1);
      await sleep(Number(blocked.headers['retry-after']) * 1000 + 300);
      expect((await login(target, email, PASSWORD)).statusCode).toBe(200);
    });
  });

  describe('register, refresh and password change', () => {
    let target: TestApp;

    beforeAll(async () => {
      target = await startApp({
        TRUST_PROXY: 'true',
        RATE_LIMIT_REGISTER_PER_ACCOUNT: '2',
        RATE_LIMIT_REGISTER_PER_IP: '4',
        RATE_LIMIT_REFRESH_PER_SESSION: '2',
        RATE_LIMIT_PASSWORD_PER_ACCOUNT: '2',
      });
    });

    afterAll(() => target.close());

    it('limits registrations per email and per address', async () => {
      const email = uniqueEmail();
      expect((await register(target, email, '203.0.113.1')).statusCode).toBe(201);
      expect((await register(target, email.toUpperCase(), '203.0.113.2')).statusCode).toBe(409);
      expectTooMany(await register(target, ` ${email} `, '203.0.113.3'));

      const ip = '203.0.113.9';
      for (let i = 0; i < 4; i++)
        expect((await register(target, uniqueEmail(), ip)).statusCode).toBe(201);
      const blockedEmail = uniqueEmail();
      expectTooMany(await register(target, blockedEmail, ip));
      // The refused registration stored nothing.
      expect((await login(target, blockedEmail, PASSWORD, '203.0.113.10')).statusCode).toBe(401);
    });

    it('limits refreshes per session, whatever the address', async () => {
      const client = await signedInClient(target);
      const other = await signedInClient(target);
      client.headers['x-forwarded-for'] = '203.0.113.20';
      expect((await client.refresh()).statusCode).toBe(200);
      client.headers['x-forwarded-for'] = '203.0.113.21';
      expect((await client.refresh()).statusCode).toBe(200);
      client.headers['x-forwarded-for'] = '203.0.113.22';
      expectTooMany(await client.refresh());
      // The refused refresh rotated nothing: the current token still works.
      expect((await client.get('/auth/me')).statusCode).toBe(200);
      expect((await other.refresh()).statusCode).toBe(200);
    });

    it('limits password changes per user; a success clears the counter', async () => {
      const client = await signedInClient(target, uniqueEmail(), PASSWORD);
      const change = (current: string, next: string) =>
        client.post('/auth/password', { currentPassword: current, newPassword: next });
      expect((await change('wrong current', 'new passphrase 1')).statusCode).toBe(403);
      expect((await change(PASSWORD, 'new passphrase 1')).statusCode).toBe(200);
      expect((await change('wrong current', 'new passphrase 2')).statusCode).toBe(403);
      expect((await change('wrong again', 'new passphrase 2')).statusCode).toBe(403);
      expectTooMany(await change('new passphrase 1', 'new passphrase 2'));
      // Blocked before the check: the password did not change.
      const email = (await client.get('/auth/me')).json().email as string;
      expect((await login(target, email, 'new passphrase 1', '203.0.113.30')).statusCode).toBe(200);
      // Unauthenticated attempts never reach the counter: they are 401s from the guard.
      const stranger = new TestClient(target);
      expect((await stranger.post('/auth/password', {})).statusCode).toBe(401);
    });
  });
});

describe('rate-limited routes take turns on the event loop (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ TRUST_PROXY: 'true' });
  });

  afterAll(() => target.close());

  it('each login, registration and refresh waits for its turn; a guarded request does not', async () => {
    const take = jest.spyOn(target.app.get(Turns, { strict: false }), 'take');
    const client = await signedInClient(target);
    take.mockClear();
    const answers = await Promise.all([
      ...Array.from({ length: 3 }, (_, i) =>
        login(target, uniqueEmail(), PASSWORD, `198.51.100.${i + 1}`),
      ),
      register(target, uniqueEmail(), '198.51.100.9'),
      client.refresh(),
    ]);
    expect(answers.map((answer) => answer.statusCode)).toEqual([401, 401, 401, 201, 200]);
    expect(take).toHaveBeenCalledTimes(5);
    take.mockClear();
    expect((await client.request({ method: 'GET', url: '/auth/me' })).statusCode).toBe(200);
    expect(take).not.toHaveBeenCalled();
  });
});

describe('account deletion shares the password-change limits (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ TRUST_PROXY: 'true', RATE_LIMIT_PASSWORD_PER_ACCOUNT: '2' });
  });

  afterAll(() => target.close());

  const remove = (client: TestClient, password: string) =>
    client.request({ method: 'DELETE', url: '/account', payload: { password } });

  it('counts wrong deletions and wrong password changes on one counter per user', async () => {
    const email = uniqueEmail();
    const client = await signedInClient(target, email, PASSWORD);
    client.headers['x-forwarded-for'] = '203.0.113.60';
    expect((await remove(client, 'wrong guess')).statusCode).toBe(403);
    client.headers['x-forwarded-for'] = '203.0.113.61';
    expect(
      (await client.post('/auth/password', { currentPassword: 'x', newPassword: 'new passphrase' }))
        .statusCode,
    ).toBe(403);
    client.headers['x-forwarded-for'] = '203.0.113.62';
    expectTooMany(await remove(client, PASSWORD));
    // Refused before the password was checked: the account is still there.
    expect((await client.get('/auth/me')).statusCode).toBe(200);
    expect((await login(target, email, PASSWORD, '203.0.113.63')).statusCode).toBe(200);
  });

  it("clears the account's counters: the email registers and logs in afresh", async () => {
    const limited = await startApp({
      TRUST_PROXY: 'true',
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '3',
      RATE_LIMIT_REGISTER_PER_ACCOUNT: '1',
    });
    try {
      const email = uniqueEmail();
      const client = await signedInClient(limited, email, PASSWORD);
      for (let i = 0; i < 2; i++) {
        expect((await login(limited, email, `wrong ${i}`, `198.51.100.${70 + i}`)).statusCode).toBe(
          401,
        );
      }
      expect((await remove(client, PASSWORD)).statusCode).toBe(204);

      expect((await register(limited, email, '198.51.100.80')).statusCode).toBe(201);
      for (let i = 0; i < 3; i++) {
        expect((await login(limited, email, `wrong ${i}`, `198.51.100.${90 + i}`)).statusCode).toBe(
          401,
        );
      }
      expectTooMany(await login(limited, email, PASSWORD, '198.51.100.99'));
    } finally {
      await limited.close();
    }
  });
});

describe('refresh with a leaked access token (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({
      TRUST_PROXY: 'true',
      RATE_LIMIT_REFRESH_PER_SESSION: '3',
      RATE_LIMIT_REFRESH_PER_IP: '10',
    });
  });

  afterAll(() => target.close());

  /** A refresh naming `sessionId` (readable in any of its access tokens) with a made-up secret. */
  const bogusRefresh = (sessionId: string, ip: string) =>
    target.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: {
        'x-forwarded-for': ip,
        cookie: `__Secure-Fpa-Refresh=${sessionId}.${randomBytes(32).toString('base64url')}`,
      },
    });

  it("does not spend the victim's per-session counter, whatever the count", async () => {
    const victim = await signedInClient(target, uniqueEmail(), PASSWORD, {
      'x-forwarded-for': '198.51.100.5',
    });
    const sessionId = victim.sessionId as string;
    // Twice the per-session limit, from as many addresses as it takes to stay under each one's.
    for (let i = 0; i < 6; i++) {
      expect((await bogusRefresh(sessionId, `203.0.113.${100 + (i % 2)}`)).statusCode).toBe(401);
    }
    for (let i = 0; i < 3; i++) expect((await victim.refresh()).statusCode).toBe(200);
    expect((await victim.get('/auth/me')).statusCode).toBe(200);
  });

  it("limits the attacker's address, and only that address", async () => {
    const victim = await signedInClient(target, uniqueEmail(), PASSWORD, {
      'x-forwarded-for': '198.51.100.6',
    });
    const sessionId = victim.sessionId as string;
    for (let i = 0; i < 10; i++) {
      expect((await bogusRefresh(sessionId, '203.0.113.150')).statusCode).toBe(401);
    }
    expectTooMany(await bogusRefresh(sessionId, '203.0.113.150'));
    expect((await victim.refresh()).statusCode).toBe(200);
  });

  it('limits the owner past the per-session limit with the valid credential: 429 RATE_LIMITED', async () => {
    const owner = await signedInClient(target, uniqueEmail(), PASSWORD);
    for (let i = 0; i < 3; i++) {
      owner.headers['x-forwarded-for'] = `198.51.100.${110 + i}`;
      expect((await owner.refresh()).statusCode).toBe(200);
    }
    owner.headers['x-forwarded-for'] = '198.51.100.120';
    expectTooMany(await owner.refresh());
    // Refused before rotating: the current token and refresh cookie are still the live ones.
    expect((await owner.get('/auth/me')).statusCode).toBe(200);
  });
});

/** The app with Redis rate-limit counters; sessions stay in memory so only the counters use Redis. */
async function startAppWithRedisCounters(
  redisUrl: string,
  prefix: string,
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const config = testEnv({
    SESSION_STORE: 'redis',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    TRUST_PROXY: 'true',
    ...overrides,
  });
  const clock = new FakeClock(Date.now());
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot(config, { clock })],
  })
    .overrideProvider(SessionRepository)
    .useValue(new InMemorySessionRepository(sessionPolicy(config), config.sessionCapacity, clock))
    .compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(fastifyAdapter(config), {
    bodyParser: false,
    logger: false,
  });
  await configureApp(app, config);
  checkResponsesAgainst(app, () => openApiDocument(app));
  await app.init();
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();
  return {
    app,
    config,
    clock,
    inject: (options: InjectOptions) => fastify.inject(options),
    close: () => app.close(),
  };
}

/**
 * What every shared counter store shows: two instances of one deployment count one account's
 * attempts together, store no email in a key, and a success on one clears the other's count.
 */
function sharedCounterCases(
  apps: () => [TestApp, TestApp],
  keying: string,
  storedKeys: (target: TestApp) => Promise<string[]>,
  keyShape: (key: string) => boolean,
): void {
  it(`shares counters between instances, ${keying}`, async () => {
    const [first, second] = apps();
    const email = uniqueEmail();
    expect((await register(first, email)).statusCode).toBe(201);
    expect((await register(second, email)).statusCode).toBe(409);
    expect((await login(first, email, 'wrong 1', '203.0.113.1')).statusCode).toBe(401);
    expect((await login(second, email, 'wrong 2', '203.0.113.2')).statusCode).toBe(401);
    expect((await login(first, email, 'wrong 3', '203.0.113.3')).statusCode).toBe(401);
    expectTooMany(await login(second, email, PASSWORD, '203.0.113.4'));
    expectTooMany(await login(first, email, PASSWORD, '203.0.113.5'));

    const keys = await storedKeys(first);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every(keyShape)).toBe(true);
    expect(keys.join('\n')).not.toContain(email);
  });

  it('a success on one instance clears the account on the other', async () => {
    const [first, second] = apps();
    const email = uniqueEmail();
    expect((await register(first, email)).statusCode).toBe(201);
    expect((await login(first, email, 'wrong 1')).statusCode).toBe(401);
    expect((await login(first, email, 'wrong 2')).statusCode).toBe(401);
    expect((await login(second, email, PASSWORD)).statusCode).toBe(200);
    expect((await login(first, email, 'wrong 3')).statusCode).toBe(401);
    expect((await login(first, email, 'wrong 4')).statusCode).toBe(401);
    expect((await login(second, email, PASSWORD)).statusCode).toBe(200);
  });
}

describeWithRedis('rate limits (e2e, Redis counters)', (url) => {
  const prefix = `fpa-rl-${randomBytes(6).toString('hex')}:`;
  const dir = mkdtempSync(join(tmpdir(), 'fpa-rl-'));
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    // Two instances of one deployment: one user database, one Redis.
    const limits = {
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '3',
      DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
    };
    first = await startAppWithRedisCounters(url, prefix, limits);
    second = await startAppWithRedisCounters(url, prefix, limits);
  });

  afterAll(async () => {
    try {
      const redis = first.app.get<Redis>(REDIS_CLIENT);
      await deleteKeysWithPrefix(redis, prefix);
    } finally {
      await first?.close();
      await second?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  sharedCounterCases(
    () => [first, second],
    'keyed under the prefix without the email',
    async (target) => keysWithPrefix(target.app.get<Redis>(REDIS_CLIENT), prefix),
    (key) => key.startsWith(`${prefix}ratelimit:`),
  );
});

describeWithPostgres('rate limits (e2e, SQL counters)', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl, 'fpa_rl');
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    // Two instances of one deployment on one PostgreSQL database: users, sessions and counters.
    const { url } = await databases.create();
    const env = {
      SESSION_STORE: 'sql',
      DATABASE_URL: url,
      TRUST_PROXY: 'true',
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '3',
    };
    first = await startApp(env);
    second = await startApp(env);
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
    await databases.dropAll();
  });

  const counters = (target: TestApp) =>
    rateLimitsDb(target.app.get<SqlDatabase>(SQL_DATABASE)).selectFrom('rate_limits');

  sharedCounterCases(
    () => [first, second],
    'keyed by rule without the email',
    async (target) => (await counters(target).select('key').execute()).map((row) => row.key),
    (key) => /^(login|register):(ip|account):[\w-]{43}$/.test(key),
  );

  it('the session cleanup job sweeps counters whose window has ended, and only those', async () => {
    const db = rateLimitsDb(first.app.get<SqlDatabase>(SQL_DATABASE));
    await db
      .insertInto('rate_limits')
      .values({ key: 'login:ip:ended', points: 7, expire: Date.now() - 1000 })
      .execute();
    const live = (await counters(first).select('key').execute()).map((row) => row.key);
    await second.app.get(SessionCleanupJob).run();
    const left = (await counters(first).select('key').execute()).map((row) => row.key);
    expect(left).not.toContain('login:ip:ended');
    expect(left.sort()).toEqual(live.filter((key) => key !== 'login:ip:ended').sort());
  });
});

describeWithRedisServer('rate limits (e2e) when Redis is down', () => {
  let redis: RedisServer;
  let target: TestApp;

  beforeAll(async () => {
    redis = await startRedisServer(7710);
    target = await startAppWithRedisCounters(
      redis.url,
      `fpa-rl-down-${randomBytes(4).toString('hex')}:`,
    );
  });

  afterAll(async () => {
    await target?.close();
    await redis?.stop();
  });

  it('answers 503 with Retry-After, issues nothing and stores nothing, then recovers', async () => {
    const email = uniqueEmail();
    expect((await register(target, email)).statusCode).toBe(201);
    const client = new TestClient(target);
    await client.login(email, PASSWORD);

    await redis.stop();
    const refused = await login(target, email, PASSWORD);
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The rate-limit store is unavailable',
      code: 'STORE_UNAVAILABLE',
    });
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['set-cookie']).toBeUndefined();
    const newcomer = uniqueEmail();
    expect((await register(target, newcomer)).statusCode).toBe(503);
    // Routes without limits do not depend on the counters.
    expect((await client.get('/auth/me')).statusCode).toBe(200);
    expect((await client.get('/sessions')).json().sessions).toHaveLength(1);

    redis = await startRedisServer(7710);
    const deadline = Date.now() + 10_000;
    let again = await login(target, email, PASSWORD);
    while (again.statusCode === 503 && Date.now() < deadline) {
      await sleep(100);
      again = await login(target, email, PASSWORD);
    }
    expect(again.statusCode).toBe(200);
    // The registration refused while Redis was down never happened.
    expect((await login(target, newcomer, PASSWORD)).statusCode).toBe(401);
  });

  it('its Redis connection is closed when the app shuts down', async () => {
    const app = await startAppWithRedisCounters(redis.url, 'fpa-rl-close:');
    const client = app.app.get<Redis>(REDIS_CLIENT);
    await app.close();
    expect(client.status).toBe('end');
  });
});
