import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { TEST_SECRET } from './support/app';
import { MAIN, startService } from './support/process';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import { describeWithRedis } from './support/services';

const run = promisify(execFile);
const IMPORT = join(MAIN, '..', 'cli', 'import-sessions.js');
const PASSWORD = 'correct horse battery staple';

/**
 * Moving a single instance to Redis without logging anyone out: the in-memory snapshot written at
 * shutdown is imported into Redis, and the Redis-mode service accepts the old credentials.
 * Ports 7610-7611.
 */
describeWithRedis('session snapshot import into Redis (e2e, real processes)', (redisUrl) => {
  let dir: string;
  let redis: Redis;
  const prefix = randomKeyPrefix('import');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-import-e2e-'));
    redis = new Redis(redisUrl);
  });

  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const common = () => ({
    DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
    COOKIE_SECURE: 'false',
    JWT_SECRET: TEST_SECRET,
  });
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const cookie = (cookies: string[], name: string) =>
    cookies.find((c) => c.startsWith(`${name}=`))?.split(';')[0] as string;

  it('keeps every live session: old token, cookie and refresh credential work in Redis mode', async () => {
    const snapshot = join(dir, 'sessions.snapshot');
    const memory = await startService({ ...common(), SESSION_SNAPSHOT_PATH: snapshot }, 7610);
    const email = 'mover@example.com';
    const logins: Array<{ accessToken: string; sessionId: string; cookies: string[] }> = [];
    let revokedId: string;
    try {
      expect(
        (await post(`${memory.url}/auth/register`, { email, password: PASSWORD })).status,
      ).toBe(201);
      for (let i = 0; i < 3; i++) {
        const login = await post(`${memory.url}/auth/login`, { email, password: PASSWORD });
        expect(login.status).toBe(200);
        const body = (await login.json()) as { accessToken: string; sessionId: string };
        logins.push({ ...body, cookies: login.headers.getSetCookie() });
      }
      // One session ends before the move: it must not come back.
      const [first, , third] = logins;
      revokedId = third.sessionId;
      const revoke = await fetch(`${memory.url}/sessions/${revokedId}`, {
        method: 'DELETE',
        headers: {
          authorization: `Bearer ${first.accessToken}`,
          cookie: cookie(first.cookies, 'fgp'),
        },
      });
      expect(revoke.status).toBe(204);
    } finally {
      expect(await memory.stop('SIGTERM')).toBe(0);
    }

    const env = {
      PATH: process.env.PATH ?? '',
      SESSION_STORE: 'redis',
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
    };
    const imported = await run(process.execPath, [IMPORT, snapshot], { env });
    expect(imported.stderr).toContain('2 imported, 0 already present');
    // Running it again changes nothing.
    const again = await run(process.execPath, [IMPORT, snapshot], { env });
    expect(again.stderr).toContain('0 imported, 2 already present');

    // Each key expires by itself when the session would have: within the idle timeout (30 min).
    const keys = await redis.keys(`${prefix}*:s:*`);
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30 * 60);
    }

    const shared = await startService(
      { ...common(), SESSION_STORE: 'redis', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix },
      7611,
    );
    try {
      const [first, second] = logins;
      const me = await fetch(`${shared.url}/auth/me`, {
        headers: {
          authorization: `Bearer ${first.accessToken}`,
          cookie: cookie(first.cookies, 'fgp'),
        },
      });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { sessionId: string }).sessionId).toBe(first.sessionId);

      const refreshed = await post(`${shared.url}/auth/refresh`, undefined, {
        cookie: cookie(second.cookies, 'fpa_refresh'),
      });
      expect(refreshed.status).toBe(200);
      expect(((await refreshed.json()) as { sessionId: string }).sessionId).toBe(second.sessionId);

      const list = await fetch(`${shared.url}/sessions`, {
        headers: {
          authorization: `Bearer ${first.accessToken}`,
          cookie: cookie(first.cookies, 'fgp'),
        },
      });
      const ids = ((await list.json()) as { sessions: Array<{ id: string }> }).sessions.map(
        (session) => session.id,
      );
      expect(ids.sort()).toEqual([first.sessionId, second.sessionId].sort());
      expect(ids).not.toContain(revokedId!);
    } finally {
      await shared.stop('SIGTERM');
    }
  });

  it('refuses to run without a shared store to load into (SESSION_STORE=memory)', async () => {
    const env = { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl };
    await expect(run(process.execPath, [IMPORT, join(dir, 'any')], { env })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('SESSION_STORE=memory keeps sessions in the service process'),
    });
  });

  it('refuses a file that is not a snapshot and writes nothing', async () => {
    const before = (await redis.keys(`${prefix}*`)).length;
    const bogus = join(dir, 'not-a-snapshot');
    writeFileSync(bogus, '{"format":"something-else"}\n');
    const env = {
      PATH: process.env.PATH ?? '',
      SESSION_STORE: 'redis',
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
    };
    await expect(run(process.execPath, [IMPORT, bogus], { env })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('not a fingerprint-auth-sessions file'),
    });
    expect((await redis.keys(`${prefix}*`)).length).toBe(before);
  });
});
