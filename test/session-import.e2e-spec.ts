import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { Client } from 'pg';
import { TEST_SECRET } from './support/app';
import { HttpClient, loggedInHttpClient, signedInHttpClient } from './support/http-client';
import { ThrowawayDatabases } from './support/postgres';
import { MAIN, ServiceProcess, startService } from './support/process';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import { describeWithPostgres, describeWithRedis } from './support/services';

const run = promisify(execFile);
const IMPORT = join(MAIN, '..', 'cli', 'import-sessions.js');
const EXPORT = join(MAIN, '..', 'cli', 'export-sessions.js');

/**
 * Moving sessions between stores without logging anyone out, with the real service and the real
 * commands: a memory-mode service's snapshot (written at SIGTERM) imported into Redis or
 * PostgreSQL, and PostgreSQL's sessions exported to a snapshot a memory-mode service restores.
 * Ports 7610-7611 (Redis) and 7931-7934 (PostgreSQL).
 */
const serviceEnv = (extra: Record<string, string>): Record<string, string> => ({
  COOKIE_SECURE: 'false',
  JWT_SECRET: TEST_SECRET,
  GEOIP: 'off',
  ...extra,
});

/** Runs a command of dist/cli with only `env` (and PATH), in `cwd`. */
const command = (script: string, args: string[], env: Record<string, string>, cwd: string) =>
  run(process.execPath, [script, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd });

/** One account's devices on a service: `live` are logged in, `revoked` was logged out by them. */
interface Devices {
  email: string;
  live: HttpClient[];
  revoked: HttpClient;
}

async function devicesOn(service: ServiceProcess, email: string): Promise<Devices> {
  const live = [await signedInHttpClient(service, email), await loggedInHttpClient(service, email)];
  const revoked = await loggedInHttpClient(service, email);
  // Ended before the move (it keeps its token and cookies): it must not come back.
  expect((await live[0].request(service, 'DELETE', `/sessions/${revoked.sessionId}`)).status).toBe(
    204,
  );
  return { email, live, revoked };
}

/**
 * The devices as they were on the old store: each live token with its fingerprint cookie works,
 * a refresh credential rotates, the list holds exactly the live sessions, the revoked one stays out.
 */
async function expectDevicesWork(service: ServiceProcess, devices: Devices): Promise<void> {
  const { email, live, revoked } = devices;
  for (const client of live) {
    const me = await client.request(service, 'GET', '/auth/me');
    expect(me).toMatchObject({ status: 200, body: { email, sessionId: client.sessionId } });
  }
  const listed = await live[0].request(service, 'GET', '/sessions');
  expect((listed.body.sessions as Array<{ id: string }>).map((s) => s.id).sort()).toEqual(
    live.map((client) => client.sessionId).sort(),
  );
  const before = live[1].cookies.get('fpa_refresh');
  const refreshed = await live[1].refresh(service);
  expect(refreshed).toMatchObject({ status: 200, body: { sessionId: live[1].sessionId } });
  expect(live[1].cookies.get('fpa_refresh')).not.toBe(before);
  expect((await live[1].request(service, 'GET', '/auth/me')).status).toBe(200);
  expect((await revoked.request(service, 'GET', '/auth/me')).status).toBe(401);
  expect((await revoked.refresh(service)).status).toBe(401);
}

/** Starts a memory-mode service, makes `email`'s devices on it, and stops it (SIGTERM). */
async function devicesOnMemoryService(
  env: Record<string, string>,
  port: number,
  email: string,
): Promise<Devices> {
  const memory = await startService(serviceEnv(env), port);
  try {
    return await devicesOn(memory, email);
  } finally {
    // The snapshot is written at shutdown.
    expect(await memory.stop('SIGTERM')).toBe(0);
  }
}

describe('sessions:import and sessions:export without a shared store (e2e)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-move-memory-e2e-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['sessions:import', IMPORT, 'SESSION_STORE=memory keeps sessions in the service process'],
    [
      'sessions:export',
      EXPORT,
      'SESSION_STORE=memory keeps sessions in the service process, which writes them to its snapshot',
    ],
  ])('%s refuses SESSION_STORE=memory with exit code 2', async (_name, script, message) => {
    const file = join(dir, 'any.snapshot');
    await expect(command(script, [file], {}, dir)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining(message),
    });
    expect(existsSync(file)).toBe(false);
  });
});

describeWithRedis('session snapshot import into Redis (e2e, real processes)', (redisUrl) => {
  let dir: string;
  let redis: Redis;
  const prefix = randomKeyPrefix('import');
  const redisEnv = { SESSION_STORE: 'redis', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-import-e2e-'));
    redis = new Redis(redisUrl);
  });

  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const users = () => ({ DATABASE_URL: `sqlite:${join(dir, 'users.db')}` });

  it('keeps every live session: old token, cookie and refresh credential work in Redis mode', async () => {
    const snapshot = join(dir, 'sessions.snapshot');
    const devices = await devicesOnMemoryService(
      { ...users(), SESSION_SNAPSHOT_PATH: snapshot },
      7610,
      'mover@example.com',
    );

    const imported = await command(IMPORT, [snapshot], redisEnv, dir);
    expect(imported.stderr).toContain('2 imported, 0 already present');
    // Running it again changes nothing.
    const again = await command(IMPORT, [snapshot], redisEnv, dir);
    expect(again.stderr).toContain('0 imported, 2 already present');

    // Each key expires by itself when the session would have: within the idle timeout (30 min).
    const keys = await redis.keys(`${prefix}*:s:*`);
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30 * 60);
    }

    const shared = await startService(serviceEnv({ ...users(), ...redisEnv }), 7611);
    try {
      await expectDevicesWork(shared, devices);
    } finally {
      await shared.stop('SIGTERM');
    }
  });

  it('refuses a file that is not a snapshot and writes nothing', async () => {
    const before = (await redis.keys(`${prefix}*`)).length;
    const bogus = join(dir, 'not-a-snapshot');
    writeFileSync(bogus, '{"format":"something-else"}\n');
    await expect(command(IMPORT, [bogus], redisEnv, dir)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('not a fingerprint-auth-sessions file'),
    });
    expect((await redis.keys(`${prefix}*`)).length).toBe(before);
  });
});

describeWithPostgres(
  'session snapshots into and out of PostgreSQL (e2e, real processes)',
  (url) => {
    const databases = new ThrowawayDatabases(url, 'fpa_move');
    let dir: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'fpa-move-postgres-e2e-'));
    });

    afterAll(async () => {
      await databases.dropAll();
      rmSync(dir, { recursive: true, force: true });
    });

    /** The ids in the SQL store's table. */
    async function storedIds(databaseUrl: string): Promise<string[]> {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ id: string }>('select id from sessions order by id');
        return rows.map((row) => row.id);
      } finally {
        await client.end();
      }
    }

    it('memory to PostgreSQL: the SIGTERM snapshot imported, the sql-mode service accepts the old credentials', async () => {
      // The users are in PostgreSQL from the start; only the sessions move.
      const { url: databaseUrl } = await databases.create();
      const snapshot = join(dir, 'memory.snapshot');
      const devices = await devicesOnMemoryService(
        { DATABASE_URL: databaseUrl, SESSION_SNAPSHOT_PATH: snapshot },
        7931,
        'to-postgres@example.com',
      );

      const sqlEnv = { SESSION_STORE: 'sql', DATABASE_URL: databaseUrl };
      // The store's table does not exist yet: the import creates it.
      const imported = await command(IMPORT, [snapshot], sqlEnv, dir);
      expect(imported.stderr).toContain('2 imported, 0 already present, 0 expired');
      const again = await command(IMPORT, [snapshot], sqlEnv, dir);
      expect(again.stderr).toContain('0 imported, 2 already present');
      expect(await storedIds(databaseUrl)).toEqual(
        devices.live.map((client) => client.sessionId).sort(),
      );

      const shared = await startService(serviceEnv(sqlEnv), 7932);
      try {
        await expectDevicesWork(shared, devices);
      } finally {
        expect(await shared.stop('SIGTERM')).toBe(0);
      }
    });

    it('PostgreSQL to memory: sessions:export writes a snapshot a memory-mode service restores', async () => {
      const { url: databaseUrl } = await databases.create();
      const sqlEnv = { SESSION_STORE: 'sql', DATABASE_URL: databaseUrl };
      const shared = await startService(serviceEnv(sqlEnv), 7933);
      let devices: Devices;
      try {
        devices = await devicesOn(shared, 'from-postgres@example.com');
      } finally {
        expect(await shared.stop('SIGTERM')).toBe(0);
      }

      const snapshot = join(dir, 'exported.snapshot');
      const exported = await command(EXPORT, [snapshot], sqlEnv, dir);
      expect(exported.stderr).toMatch(
        /sessions:export: 2 sessions written to .*exported\.snapshot/,
      );
      expect(statSync(snapshot).mode & 0o777).toBe(0o600);

      // Users stay in PostgreSQL; sessions now in the memory store, restored from the export.
      const memory = await startService(
        serviceEnv({ DATABASE_URL: databaseUrl, SESSION_SNAPSHOT_PATH: snapshot }),
        7934,
      );
      try {
        await expectDevicesWork(memory, devices!);
      } finally {
        expect(await memory.stop('SIGTERM')).toBe(0);
      }
    });
  },
);
