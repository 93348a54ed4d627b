import { FingerprintAuthMetrics } from '../observability/metrics';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { FakeClock } from '../common/clock';
import { validateEnv } from '../config';
import { InMemorySessionRepository } from './stores/memory/in-memory-session.repository';
import { NewSession, Session, SessionPolicy } from './session';
import { SessionRepository } from './session.repository';
import {
  readSnapshot,
  removeUnfinishedWrites,
  SessionSnapshotService,
  SNAPSHOT_FORMAT,
  SnapshotFormatError,
  writeSnapshot,
} from './session-snapshot';

const MINUTE = 60_000;
const policy: SessionPolicy = {
  idleTtl: 30 * 60,
  absoluteTtl: 8 * 3600,
  maxPerUser: 100,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

let counter = 0;
const newSession = (overrides: Partial<NewSession> = {}): NewSession => ({
  id: `snap-${String(++counter).padStart(17, '0')}`,
  userId: `user-${counter % 3}`,
  fingerprintHash: `f${counter}`.padEnd(43, 'f'),
  refreshHash: `r${counter}`.padEnd(43, 'r'),
  ipAddress: '203.0.113.7',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0',
  location: { country: 'GB', region: 'England', city: 'London' },
  ...overrides,
});

async function readAll(path: string): Promise<Session[]> {
  const sessions: Session[] = [];
  for await (const session of readSnapshot(path)) sessions.push(session);
  return sessions;
}

const plain = (session: Session) => JSON.parse(JSON.stringify(session)) as Session;

describe('writeSnapshot / readSnapshot', () => {
  let dir: string;
  let clock: FakeClock;
  let store: InMemorySessionRepository;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-snapshot-'));
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    store = new InMemorySessionRepository(policy, 10_000, clock);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips every field of every session, in chunks, as a self-identifying file', async () => {
    await store.create(newSession({ location: null }));
    const { session: rotated } = await store.create(newSession());
    clock.advance(2 * MINUTE);
    await store.rotateRefresh(rotated.id, {
      presentedHash: rotated.refreshHash,
      nextRefreshHash: 'n'.repeat(43),
      nextFingerprintHash: 'm'.repeat(43),
      ipAddress: '198.51.100.9',
      userAgent: 'Other/1.0',
    });
    for (let i = 0; i < 7; i++) await store.create(newSession({ location: { country: 'FR' } }));
    const path = join(dir, 'sessions.snapshot');

    const result = await writeSnapshot(path, store.exportAll(), { chunkSize: 3 });

    expect(result.count).toBe(9);
    const text = readFileSync(path, 'utf8');
    expect(result.bytes).toBe(Buffer.byteLength(text));
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(11);
    expect(JSON.parse(lines[0])).toMatchObject({ format: SNAPSHOT_FORMAT, version: 1 });
    expect(JSON.parse(lines[10])).toEqual({ end: true, count: 9 });
    const read = await readAll(path);
    const all: Session[] = [];
    for await (const session of store.exportAll()) all.push(session);
    expect(read.map(plain)).toEqual(all.map(plain));
    const again = read.find((session) => session.id === rotated.id);
    expect(again).toMatchObject({
      // The credential the rotation replaced: the one the session was created with.
      previousRefreshHash: rotated.refreshHash,
      loginIpAddress: '203.0.113.7',
      loginUserAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0',
      refreshRotatedAt: Math.floor(Date.UTC(2026, 0, 1, 0, 2) / 1000),
    });
    // Equal places share one frozen object, as fresh GeoIP lookups do.
    const french = read.filter((session) => session.location?.country === 'FR');
    expect(new Set(french.map((session) => session.location)).size).toBe(1);
    expect(Object.isFrozen(french[0].location)).toBe(true);
  });

  it('writes the file with mode 0600 and leaves no temp file behind', async () => {
    await store.create(newSession());
    const path = join(dir, 'sessions.snapshot');
    writeFileSync(path, 'old contents', { mode: 0o644 });

    await writeSnapshot(path, store.exportAll());

    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['sessions.snapshot']);
    expect(await readAll(path)).toHaveLength(1);
  });

  it('keeps the previous file whole when a write fails half-way', async () => {
    await store.create(newSession());
    const path = join(dir, 'sessions.snapshot');
    await writeSnapshot(path, store.exportAll());
    const before = readFileSync(path, 'utf8');
    async function* failing(): AsyncGenerator<Session> {
      yield* store.exportAll();
      throw new Error('disk on fire');
    }

    await expect(writeSnapshot(path, failing(), { chunkSize: 1 })).rejects.toThrow('disk on fire');

    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readdirSync(dir)).toEqual(['sessions.snapshot']);
  });

  it('removes the temp files of unfinished writes of that path, and nothing else', async () => {
    const path = join(dir, 'sessions.snapshot');
    await writeSnapshot(path, store.exportAll());
    const unfinished = [
      '.sessions.snapshot.0123456789ab.tmp',
      '.sessions.snapshot.ffffffffffff.tmp',
    ];
    const others = [
      '.other.snapshot.0123456789ab.tmp',
      '.sessions.snapshot.0123.tmp',
      '.sessions.snapshot.0123456789ab.tmp.keep',
      'sessions.snapshot.corrupt-2026-01-01T00-00-00-000Z',
      'sessions.snapshot',
    ];
    for (const name of [...unfinished, ...others]) {
      if (name !== 'sessions.snapshot') writeFileSync(join(dir, name), 'partial');
    }

    expect((await removeUnfinishedWrites(path)).sort()).toEqual(unfinished);

    expect(readdirSync(dir).sort()).toEqual([...others].sort());
    expect(await removeUnfinishedWrites(path)).toEqual([]);
  });

  describe('refuses what is not a whole snapshot', () => {
    const header = JSON.stringify({
      format: SNAPSHOT_FORMAT,
      version: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      fields: [
        'id',
        'userId',
        'fingerprintHash',
        'refreshHash',
        'previousRefreshHash',
        'refreshRotatedAt',
        'ipAddress',
        'userAgent',
        'location',
        'loginIpAddress',
        'loginUserAgent',
        'createdAt',
        'lastActivity',
        'idleExpiresAt',
        'absoluteExpiresAt',
      ],
    });
    const record = JSON.stringify([
      'id-1',
      'user-1',
      'f'.repeat(43),
      'r'.repeat(43),
      null,
      0,
      '203.0.113.7',
      'UA',
      null,
      null,
      null,
      1,
      1,
      2,
      3,
    ]);

    it.each([
      ['an empty file', ''],
      ['binary junk', '\u0000\u0001\u0002garbage'],
      ['another JSON file', '{"name":"package","version":"1.0.0"}\n'],
      [
        'another version',
        `${header.replace('"version":1', '"version":2')}\n{"end":true,"count":0}\n`,
      ],
      ['a truncated file', `${header}\n${record}\n`],
      ['a wrong count', `${header}\n${record}\n{"end":true,"count":2}\n`],
      ['a broken record', `${header}\n${record.slice(0, 20)}\n{"end":true,"count":1}\n`],
      ['a record of the wrong shape', `${header}\n["id-1",2]\n{"end":true,"count":1}\n`],
      [
        'a bad location',
        `${header}\n${record.replace('"UA",null', '"UA",{"country":7}')}\n{"end":true,"count":1}\n`,
      ],
      ['data after the end', `${header}\n{"end":true,"count":0}\n${record}\n`],
    ])('%s', async (_case, contents) => {
      const path = join(dir, 'bad.snapshot');
      writeFileSync(path, contents);
      await expect(readAll(path)).rejects.toBeInstanceOf(SnapshotFormatError);
    });

    it('while a well-formed one reads', async () => {
      const path = join(dir, 'good.snapshot');
      writeFileSync(path, `${header}\n${record}\n{"end":true,"count":1}\n`);
      expect(await readAll(path)).toHaveLength(1);
    });
  });
});

describe('SessionSnapshotService', () => {
  let dir: string;
  let path: string;
  let clock: FakeClock;

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-snapshot-service-'));
    path = join(dir, 'sessions.snapshot');
    clock = new FakeClock(Date.UTC(2026, 0, 1));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const config = (overrides: Record<string, string> = {}) =>
    validateEnv({
      NODE_ENV: 'test',
      DATABASE_URL: 'sqlite::memory:',
      SESSION_SNAPSHOT_PATH: path,
      ...overrides,
    });
  const service = (store: InMemorySessionRepository, overrides: Record<string, string> = {}) =>
    new SessionSnapshotService(store, clock, config(overrides), new FingerprintAuthMetrics());

  it('writes live sessions at shutdown and restores the unexpired ones at start', async () => {
    const before = new InMemorySessionRepository(policy, 100, clock);
    const { session: stays } = await before.create(newSession());
    const { session: goes } = await before.create(newSession());
    const { session: expires } = await before.create(newSession());
    await before.revoke(goes.id, goes.userId);
    clock.advance(20 * MINUTE);
    await before.touch(stays.id, '203.0.113.7', 'UA');
    await service(before).onApplicationShutdown();
    expect((await readAll(path)).map((s) => s.id).sort()).toEqual([expires.id, stays.id].sort());

    // `expires` passes its idle timeout while the service is down.
    clock.advance(15 * MINUTE);
    const after = new InMemorySessionRepository(policy, 100, clock);
    await service(after).onModuleInit();

    expect(await after.findById(stays.id)).toEqual(await before.findById(stays.id));
    expect(await after.findById(expires.id)).toBeNull();
    expect(await after.findById(goes.id)).toBeNull();
    expect((await after.stats()).stored).toBe(1);
  });

  it('starts empty on a first start, without a file', async () => {
    const store = new InMemorySessionRepository(policy, 100, clock);
    await service(store).onModuleInit();
    expect((await store.stats()).stored).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it('moves a corrupt snapshot aside and starts empty, keeping nothing from it', async () => {
    const source = new InMemorySessionRepository(policy, 100, clock);
    for (let i = 0; i < 5; i++) await source.create(newSession());
    await writeSnapshot(path, source.exportAll());
    // Damage the last record: the first four are valid and must not stay restored.
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    lines[5] = lines[5].slice(0, 30);
    writeFileSync(path, `${lines.join('\n')}\n`);

    const store = new InMemorySessionRepository(policy, 100, clock);
    await service(store).onModuleInit();

    expect((await store.stats()).stored).toBe(0);
    expect(existsSync(path)).toBe(false);
    const aside = readdirSync(dir).filter((name) => name.startsWith('sessions.snapshot.corrupt-'));
    expect(aside).toEqual(['sessions.snapshot.corrupt-2026-01-01T00-00-00-000Z']);
    expect(readFileSync(join(dir, aside[0]), 'utf8')).toBe(`${lines.join('\n')}\n`);
  });

  it('moves a foreign file aside too', async () => {
    writeFileSync(path, '{"hello":"world"}\n');
    const store = new InMemorySessionRepository(policy, 100, clock);
    await service(store).onModuleInit();
    expect(readdirSync(dir)).toEqual(['sessions.snapshot.corrupt-2026-01-01T00-00-00-000Z']);
  });

  it('starts empty when the snapshot holds more sessions than the capacity', async () => {
    const source = new InMemorySessionRepository(policy, 100, clock);
    for (let i = 0; i < 5; i++) await source.create(newSession());
    await writeSnapshot(path, source.exportAll());
    const small = new InMemorySessionRepository(policy, 3, clock);
    await service(small).onModuleInit();
    expect((await small.stats()).stored).toBe(0);
    // The file is fine, just too big for this configuration: it stays where it is.
    expect(existsSync(path)).toBe(true);
  });

  it('removes the temp file of a write a crash interrupted, then restores the last whole snapshot', async () => {
    const source = new InMemorySessionRepository(policy, 100, clock);
    const { session } = await source.create(newSession());
    await writeSnapshot(path, source.exportAll());
    writeFileSync(join(dir, '.sessions.snapshot.a1b2c3d4e5f6.tmp'), '{"format":"fingerprint-');
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const store = new InMemorySessionRepository(policy, 100, clock);
      await service(store).onModuleInit();

      expect(readdirSync(dir)).toEqual(['sessions.snapshot']);
      expect(await store.findById(session.id)).toEqual(await source.findById(session.id));
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatchObject({
        event: 'snapshot_unfinished',
        files: ['.sessions.snapshot.a1b2c3d4e5f6.tmp'],
      });
    } finally {
      warn.mockRestore();
    }
  });

  it('logs a failed write with its error code, removes its temp file and writes on the next try', async () => {
    // A folder where the file should be: the temp file is written whole, and the rename over the
    // folder fails, even for root.
    mkdirSync(path);
    writeFileSync(join(path, 'in-the-way'), '');
    const store = new InMemorySessionRepository(policy, 100, clock);
    await store.create(newSession());
    const metrics = new FingerprintAuthMetrics();
    const snapshots = new SessionSnapshotService(store, clock, config(), metrics);
    const failures = async () =>
      (await metrics.snapshotFailures.get()).values.reduce((sum, { value }) => sum + value, 0);
    const error = jest.spyOn(Logger.prototype, 'error');
    try {
      await expect(snapshots.save()).resolves.toBeUndefined();
      expect(await failures()).toBe(1);
      expect(error).toHaveBeenCalledTimes(1);
      expect(error.mock.calls[0][0]).toEqual({
        event: 'snapshot_failed',
        reason: 'interval',
        code: 'EISDIR',
        error: expect.stringContaining('EISDIR'),
      });
      expect(readdirSync(dir)).toEqual(['sessions.snapshot']);

      rmSync(path, { recursive: true });
      await snapshots.save();
      expect(error).toHaveBeenCalledTimes(1);
      expect(await failures()).toBe(1);
      expect(await readAll(path)).toHaveLength(1);
      expect(readdirSync(dir)).toEqual(['sessions.snapshot']);
    } finally {
      error.mockRestore();
    }
  });

  it('joins a write already under way instead of starting a second one', async () => {
    const store = new InMemorySessionRepository(policy, 100, clock);
    await store.create(newSession());
    const snapshots = service(store);
    const first = snapshots.save();
    expect(snapshots.save()).toBe(first);
    await first;
    expect(await readAll(path)).toHaveLength(1);
  });

  it('keeps the snapshot in DATA_DIR by default, creating the folder 0700', async () => {
    const dataDir = join(dir, 'data');
    const defaults = validateEnv({
      NODE_ENV: 'test',
      DATABASE_URL: 'sqlite::memory:',
      DATA_DIR: dataDir,
    });
    const store = new InMemorySessionRepository(policy, 100, clock);
    await store.create(newSession());
    const snapshots = new SessionSnapshotService(
      store,
      clock,
      defaults,
      new FingerprintAuthMetrics(),
    );
    await snapshots.onModuleInit();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    await snapshots.onApplicationShutdown();
    const file = join(dataDir, 'sessions.snapshot');
    expect(await readAll(file)).toHaveLength(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('does nothing for a shared store, and warns only when SESSION_SNAPSHOT_PATH was set', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      // A durable store (Redis) keeps its own data: the port says so, and nothing is ever called.
      const shared = { durable: true } as SessionRepository;
      const dataDir = join(dir, 'data');
      const defaults = validateEnv({
        NODE_ENV: 'test',
        SESSION_STORE: 'redis',
        REDIS_URL: 'redis://127.0.0.1:1',
        DATA_DIR: dataDir,
      });
      const byDefault = new SessionSnapshotService(
        shared,
        clock,
        defaults,
        new FingerprintAuthMetrics(),
      );
      await byDefault.onModuleInit();
      await byDefault.onApplicationShutdown();
      expect(warn).not.toHaveBeenCalled();
      expect(existsSync(dataDir)).toBe(false);

      const explicit = new SessionSnapshotService(
        shared,
        clock,
        config(),
        new FingerprintAuthMetrics(),
      );
      await explicit.onModuleInit();
      await explicit.onApplicationShutdown();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/^SESSION_SNAPSHOT_PATH .*is ignored/);
      expect(existsSync(path)).toBe(false);
    } finally {
      warn.mockRestore();
    }
  });

  it('writes nothing with SESSION_SNAPSHOT_PATH=off', async () => {
    const dataDir = join(dir, 'data');
    const off = validateEnv({ NODE_ENV: 'test', SESSION_SNAPSHOT_PATH: 'off', DATA_DIR: dataDir });
    const store = new InMemorySessionRepository(policy, 100, clock);
    await store.create(newSession());
    const snapshots = new SessionSnapshotService(store, clock, off, new FingerprintAuthMetrics());
    await snapshots.onModuleInit();
    await snapshots.onApplicationShutdown();
    expect(existsSync(dataDir)).toBe(false);
  });
});
