import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session, startedSession, toSeconds } from '../src/sessions/session';
import { newSessionId } from '../src/sessions/session-id';
import { readSnapshot, SNAPSHOT_FIELDS, writeSnapshot } from '../src/sessions/session-snapshot';
import { RELAXED_RATE_LIMITS, TEST_SECRET } from './support/app';
import { HttpClient, PASSWORD, signedInHttpClient } from './support/http-client';
import { ServiceProcess, startService } from './support/process';
import { temporaryDirectory } from './support/temp-dir';
import { describeWithTmpfs, fillDisk, mountTmpfs, unmountTmpfs } from './support/tmpfs';

/**
 * The in-memory store, snapshotted to a file, through what a real process (dist/main.js) meets: a
 * SIGKILL under load, a SIGKILL in the middle of a snapshot write, and a full disk under the
 * snapshot. Ports 8100-8105.
 */
const USERS = 12;
/** Logins each user makes before the snapshot the test waits for, and at most after it. */
const SESSIONS_PER_USER = 3;
/** Requests in flight at once. */
const CONCURRENCY = 6;
/** Logins answered after that snapshot when the SIGKILL comes; the rest are in flight or unsent. */
const LATE_LOGINS_BEFORE_KILL = 20;
/** Sessions in the snapshot a write is killed in: about 7 MB, so the write takes a while. */
const BULK_SESSIONS = 20_000;
const WAIT_MS = 20_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const serviceEnv = (extra: Record<string, string>): Record<string, string> => ({
  NODE_ENV: 'test',
  JWT_SECRET: TEST_SECRET,
  COOKIE_SECURE: 'false',
  GEOIP: 'off',
  LOG_LEVEL: 'info',
  MAX_SESSIONS_PER_USER: '20',
  ...RELAXED_RATE_LIMITS,
  ...extra,
});

/** Polls `check` until it gives a value, for at most WAIT_MS. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS / 1000} s`);
    await sleep(50);
  }
}

/** Runs `task` on every item, `concurrency` at a time; the results in the items' order. */
async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

interface LogLine {
  level: string;
  context?: string;
  event?: string;
  [field: string]: unknown;
}

/** The service's structured log lines of one event, in order. */
const logLines = (service: ServiceProcess, event: string): LogLine[] =>
  service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => line.event === event);

async function readAll(path: string): Promise<Session[]> {
  const sessions: Session[] = [];
  for await (const session of readSnapshot(path)) sessions.push(session);
  return sessions;
}

interface SnapshotFile {
  /** When its write began (the header's createdAt), in ms. */
  readonly createdAt: number;
  readonly ids: ReadonlySet<string>;
  readonly count: number;
}

/**
 * The snapshot at `path` as it is now, read from a copy of its bytes taken at once (`scratch`):
 * the running service may rename a newer one over it meanwhile.
 */
async function readSnapshotFile(path: string, scratch: string): Promise<SnapshotFile> {
  const bytes = readFileSync(path);
  writeFileSync(scratch, bytes);
  const sessions = await readAll(scratch);
  const header = JSON.parse(bytes.subarray(0, bytes.indexOf('\n')).toString('utf8')) as {
    createdAt: string;
  };
  return {
    createdAt: Date.parse(header.createdAt),
    ids: new Set(sessions.map((session) => session.id)),
    count: sessions.length,
  };
}

/** Live sessions as a login would store them, for users that need not exist. */
function madeUpSessions(count: number): Session[] {
  const now = toSeconds(Date.now());
  return Array.from({ length: count }, () => {
    const userId = randomUUID();
    return startedSession(
      {
        id: newSessionId(userId),
        userId,
        fingerprintHash: randomBytes(32).toString('base64url'),
        refreshHash: randomBytes(32).toString('base64url'),
        ipAddress: '203.0.113.7',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0',
        location: null,
      },
      now,
      { idleTtl: 30 * 60, absoluteTtl: 8 * 3600 },
    );
  });
}

interface Login {
  /** Holds the token and cookies as the login (or a later refresh) left them. */
  readonly client: HttpClient;
  readonly sessionId: string;
  /** When the test had the answer: the session was stored before this. */
  readonly answeredAt: number;
}

async function logIn(service: ServiceProcess, email: string): Promise<Login> {
  const client = new HttpClient();
  const answer = await client.login(service, email);
  if (answer.status !== 200) throw new Error(`login answered ${answer.status}`);
  return { client, sessionId: client.sessionId as string, answeredAt: Date.now() };
}

/** What a held token, cookie and refresh credential get from `service`, in that order. */
async function tryAgain(service: ServiceProcess, client: HttpClient) {
  const me = await client.request(service, 'GET', '/auth/me');
  const refresh = await client.refresh(service);
  const meAfterRefresh = await client.request(service, 'GET', '/auth/me');
  return {
    me: me.status,
    meSession: me.body.sessionId,
    refresh: refresh.status,
    refreshSession: refresh.body.sessionId,
    meAfterRefresh: meAfterRefresh.status,
  };
}

const cameBack = (sessionId: string) => ({
  me: 200,
  meSession: sessionId,
  refresh: 200,
  refreshSession: sessionId,
  meAfterRefresh: 200,
});
const refused = {
  me: 401,
  meSession: undefined,
  refresh: 401,
  refreshSession: undefined,
  meAfterRefresh: 401,
};

describe('crashes of the in-memory store (e2e, real process)', () => {
  const root = temporaryDirectory('fpa-crash-e2e-');

  it('SIGKILL under load: every session of the last snapshot comes back, ended ones stay ended, only later ones are lost', async () => {
    const data = join(root(), 'load');
    const env = serviceEnv({ DATA_DIR: data, SESSION_SNAPSHOT_INTERVAL: '1' });
    const snapshot = join(data, 'sessions.snapshot');
    const scratch = join(root(), 'load.copy');
    const emails = Array.from({ length: USERS }, (_, user) => `load-${user}@example.com`);
    const eachUser = emails.flatMap((email) => Array<string>(SESSIONS_PER_USER).fill(email));

    const first = await startService(env, 8100);
    await inParallel(emails, CONCURRENCY, async (email) =>
      expect((await new HttpClient().register(first, email)).status).toBe(201),
    );
    // Before the snapshot: each user's first session ended (half by logout, half revoked from the
    // second session), the third refreshed (the snapshot must hold the new credential).
    const early = await inParallel(eachUser, CONCURRENCY, (email) => logIn(first, email));
    const ended: Login[] = [];
    for (let user = 0; user < USERS; user++) {
      const [endedOne, other, refreshed] = early.slice(
        user * SESSIONS_PER_USER,
        (user + 1) * SESSIONS_PER_USER,
      );
      // What the browser held before the logout cleared it: tried again after the restart.
      const held = endedOne.client.copy();
      const end =
        user % 2 === 0
          ? await endedOne.client.request(first, 'POST', '/auth/logout')
          : await other.client.request(first, 'DELETE', `/sessions/${endedOne.sessionId}`);
      expect(end.status).toBe(204);
      ended.push({ ...endedOne, client: held });
      expect((await refreshed.client.refresh(first)).status).toBe(200);
    }
    const endedIds = new Set(ended.map((login) => login.sessionId));
    const liveEarly = early.filter((login) => !endedIds.has(login.sessionId));
    const changesDone = Date.now();

    const seen = await waitFor('a snapshot begun after the changes', async () => {
      const file = await readSnapshotFile(snapshot, scratch).catch(() => undefined);
      return file && file.createdAt > changesDone ? file : undefined;
    });
    // Exactly the live sessions: none of the ended ones.
    expect([...seen.ids].sort()).toEqual(liveEarly.map((login) => login.sessionId).sort());

    // More logins, CONCURRENCY at a time, until the SIGKILL lands in the middle of them.
    const late: Login[] = [];
    let unanswered = 0;
    let killed = false;
    const lateEmails = [...eachUser];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (!killed && lateEmails.length > 0) {
          const email = lateEmails.shift() as string;
          try {
            late.push(await logIn(first, email));
          } catch (error) {
            if (!killed) throw error;
            unanswered++; // cut off by the kill: it may or may not have been stored
            continue;
          }
          if (late.length === LATE_LOGINS_BEFORE_KILL) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        }
      }),
    );
    expect(await first.stop()).toBeNull(); // killed: no exit code, no shutdown hook
    // Answers already on their way when it came may still have been read.
    expect(late.length).toBeGreaterThanOrEqual(LATE_LOGINS_BEFORE_KILL);

    const last = await readSnapshotFile(snapshot, scratch);
    const known = new Set([...early, ...late].map((login) => login.sessionId));
    // The bound: everything answered before the last snapshot began is in it, nothing ended is.
    const answeredBefore = [...liveEarly, ...late].filter(
      (login) => login.answeredAt < last.createdAt,
    );
    expect(answeredBefore.filter((login) => !last.ids.has(login.sessionId))).toEqual([]);
    expect([...endedIds].filter((id) => last.ids.has(id))).toEqual([]);
    // Anything else in it is a login whose answer the kill cut off.
    const unknown = [...last.ids].filter((id) => !known.has(id));
    expect(unknown.length).toBeLessThanOrEqual(unanswered);

    const second = await startService(env, 8101);
    try {
      expect(logLines(second, 'snapshot_restored')).toEqual([
        expect.objectContaining({ sessions: last.count, expired: 0 }),
      ]);
      const ready = await new HttpClient().request(second, 'GET', '/health/ready');
      expect(ready.body.details).toMatchObject({ sessionStore: { live: last.count } });

      // Every session the test holds, tried with its token and cookie, then its refresh.
      const held = [...liveEarly, ...late, ...ended];
      const outcomes = await inParallel(held, CONCURRENCY, (login) =>
        tryAgain(second, login.client),
      );
      expect(outcomes).toEqual(
        held.map((login) => (last.ids.has(login.sessionId) ? cameBack(login.sessionId) : refused)),
      );
      // What came back is exactly the snapshot's sessions the test knows; what is lost are late
      // logins answered after that snapshot began.
      const restored = held.filter((_login, index) => outcomes[index].me === 200);
      expect(restored.map((login) => login.sessionId).sort()).toEqual(
        [...last.ids].filter((id) => known.has(id)).sort(),
      );
      const lost = late.filter((login) => !last.ids.has(login.sessionId));
      expect(lost.filter((login) => login.answeredAt < last.createdAt)).toEqual([]);
      console.log(
        JSON.stringify({
          early: early.length,
          liveEarly: liveEarly.length,
          late: late.length,
          unanswered,
          unknown: unknown.length,
          lastCount: last.count,
          restored: restored.length,
          lost: lost.length,
          ended: ended.length,
          seenCount: seen.count,
          lastAfterSeenMs: last.createdAt - seen.createdAt,
        }),
      );
      expect({
        restored: restored.length,
        lost: lost.length,
        ended: ended.length,
      }).toEqual({
        restored: last.count - unknown.length,
        lost: liveEarly.length + late.length - (last.count - unknown.length),
        ended: USERS,
      });
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0);
    }
  });

  it('SIGKILL during a snapshot write: the previous snapshot comes back whole and the unfinished temp file is removed', async () => {
    const data = join(root(), 'mid-write');
    const snapshot = join(data, 'sessions.snapshot');
    const first = await startService(serviceEnv({ DATA_DIR: data }), 8102);
    let client: HttpClient;
    try {
      client = await signedInHttpClient(first, 'mid-write@example.com');
    } finally {
      expect(await first.stop('SIGTERM')).toBe(0);
    }
    // The shutdown wrote the one session; many more make the next write last long enough to be
    // caught under way.
    const written = await readAll(snapshot);
    expect(written.map((session) => session.id)).toEqual([client.sessionId]);
    await writeSnapshot(snapshot, [...written, ...madeUpSessions(BULK_SESSIONS)]);
    const previous = readFileSync(snapshot);

    const second = await startService(
      serviceEnv({ DATA_DIR: data, SESSION_SNAPSHOT_INTERVAL: '2' }),
      8103,
    );
    // The temp file appearing means a write has begun and has not been renamed yet: kill then.
    const temp = await new Promise<string>((resolve, reject) => {
      const watcher = watch(data, (_type, name) => {
        if (!name?.endsWith('.tmp')) return;
        second.child.kill('SIGKILL');
        watcher.close();
        clearTimeout(timer);
        resolve(name);
      });
      const timer = setTimeout(() => {
        watcher.close();
        reject(new Error(`no snapshot write began within ${WAIT_MS / 1000} s`));
      }, WAIT_MS);
    });
    expect(await second.stop()).toBeNull();
    expect(logLines(second, 'snapshot_written')).toEqual([]);
    expect(readdirSync(data)).toContain(temp);
    expect(readFileSync(snapshot).equals(previous)).toBe(true);

    const third = await startService(serviceEnv({ DATA_DIR: data }), 8104);
    try {
      expect(logLines(third, 'snapshot_unfinished')).toEqual([
        expect.objectContaining({ level: 'warn', context: 'SessionSnapshot', files: [temp] }),
      ]);
      expect(readdirSync(data).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      expect(logLines(third, 'snapshot_restored')).toEqual([
        expect.objectContaining({ sessions: BULK_SESSIONS + 1, expired: 0 }),
      ]);
      expect(await tryAgain(third, client)).toEqual(cameBack(client.sessionId as string));
    } finally {
      expect(await third.stop('SIGTERM')).toBe(0);
    }
  });
});

describeWithTmpfs('a full disk under the snapshot (e2e, real process)', () => {
  const root = temporaryDirectory('fpa-full-disk-e2e-');

  it('logs each failed write, keeps the previous snapshot byte for byte, keeps serving and writes again once there is room', async () => {
    const disk = mountTmpfs(256 * 1024);
    try {
      const snapshot = join(disk, 'sessions.snapshot');
      const filler = join(disk, 'filler');
      // Only the snapshot on the small disk: the users' database stays on the big one.
      const env = serviceEnv({
        DATA_DIR: join(root(), 'data'),
        SESSION_SNAPSHOT_PATH: snapshot,
        SESSION_SNAPSHOT_INTERVAL: '1',
      });
      const service = await startService(env, 8105);
      const secrets: string[] = [PASSWORD];
      const keep = (login: Login) => {
        secrets.push(login.client.accessToken as string, ...login.client.cookies.values());
        return login;
      };
      const count = (event: string) => logLines(service, event).length;
      try {
        const emails = ['full-disk-1@example.com', 'full-disk-2@example.com'];
        for (const email of emails) {
          expect((await new HttpClient().register(service, email)).status).toBe(201);
        }
        // 20 sessions: a snapshot of about 7 KB, more than the one page left free below.
        const logins = await inParallel(
          emails.flatMap((email) => Array<string>(10).fill(email)),
          CONCURRENCY,
          async (email) => keep(await logIn(service, email)),
        );
        const writtenBefore = count('snapshot_written');
        await waitFor('a snapshot of the first sessions', async () =>
          logLines(service, 'snapshot_written')
            .slice(writtenBefore)
            .find((line) => line.sessions === logins.length),
        );

        fillDisk(filler, 4096);
        const failedBefore = count('snapshot_failed');
        await waitFor('a failed write', async () =>
          count('snapshot_failed') > failedBefore ? true : undefined,
        );
        // No write succeeds from here on: this is the snapshot the disk keeps.
        const previous = readFileSync(snapshot);
        expect((await readAll(snapshot)).length).toBe(logins.length);

        // Still serving: the sessions work and new logins are stored (in memory).
        for (const login of logins.slice(0, 3)) {
          expect((await login.client.request(service, 'GET', '/auth/me')).status).toBe(200);
        }
        const during = await inParallel(emails.concat(emails), CONCURRENCY, async (email) =>
          keep(await logIn(service, email)),
        );
        // Tried again on the next intervals, with the new sessions, and still failing.
        const failedAfterLogins = count('snapshot_failed');
        await waitFor('two more failed writes', async () =>
          count('snapshot_failed') >= failedAfterLogins + 2 ? true : undefined,
        );
        const failures = logLines(service, 'snapshot_failed').slice(failedBefore);
        for (const failure of failures) {
          expect(failure).toEqual({
            level: 'error',
            time: expect.any(String),
            pid: expect.any(Number),
            hostname: expect.any(String),
            context: 'SessionSnapshot',
            event: 'snapshot_failed',
            reason: 'interval',
            code: 'ENOSPC',
            error: expect.stringMatching(/^ENOSPC: no space left on device/),
          });
        }
        expect(readFileSync(snapshot).equals(previous)).toBe(true);

        rmSync(filler);
        const writtenBeforeRoom = count('snapshot_written');
        await waitFor('a snapshot once there is room', async () =>
          count('snapshot_written') > writtenBeforeRoom ? true : undefined,
        );
        const all = [...logins, ...during].map((login) => login.sessionId).sort();
        expect((await readAll(snapshot)).map((session) => session.id).sort()).toEqual(all);
        expect((await logins[0].client.request(service, 'GET', '/auth/me')).status).toBe(200);
      } finally {
        expect(await service.stop('SIGTERM')).toBe(0);
      }
      // No temp file of a failed write was left behind on the disk.
      expect(readdirSync(disk)).toEqual(['sessions.snapshot']);
      for (const secret of secrets) expect(service.output()).not.toContain(secret);
    } finally {
      unmountTmpfs(disk);
    }
  });

  it('a disk that fills during the last write of a snapshot: the write fails and the previous file stays whole', async () => {
    // Three pages: one for the previous snapshot, two for the new one but the end of its end marker.
    const disk = mountTmpfs(3 * 4096);
    try {
      const path = join(disk, 'sessions.snapshot');
      const createdAt = new Date();
      await writeSnapshot(path, [], { createdAt });
      const previous = readFileSync(path);
      const headerBytes = previous.length - Buffer.byteLength('{"end":true,"count":0}\n');
      const [session] = madeUpSessions(1);
      const recordBytes = (value: Session) =>
        Buffer.byteLength(`${JSON.stringify(SNAPSHOT_FIELDS.map((field) => value[field]))}\n`);
      // Header and record end 5 bytes before the two pages are full: the disk fills during the
      // write of the end marker, which the kernel cuts short without an error.
      const padding = 2 * 4096 - 5 - headerBytes - recordBytes(session);
      const large = { ...session, userAgent: `${session.userAgent}${'x'.repeat(padding)}` };
      expect(headerBytes + recordBytes(large)).toBe(2 * 4096 - 5);

      await expect(writeSnapshot(path, [large], { createdAt })).rejects.toMatchObject({
        code: 'ENOSPC',
      });

      expect(readFileSync(path).equals(previous)).toBe(true);
      expect(readdirSync(disk)).toEqual(['sessions.snapshot']);
    } finally {
      unmountTmpfs(disk);
    }
  });
});
