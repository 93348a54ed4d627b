import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSnapshot } from '../src/sessions/session-snapshot';
import { runUntilExit, ServiceProcess, startService } from './support/process';

/**
 * What the quick-start defaults keep on disk, and what a restart keeps: the built service as a
 * process, each case with a temp DATA_DIR. Ports 7800-7809.
 */
const PASSWORD = 'correct horse battery staple';
const mode = (path: string) => statSync(path).mode & 0o777;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Login {
  readonly accessToken: string;
  readonly sessionId: string;
  /** `name=value` of every cookie the login set. */
  readonly cookies: string;
}

async function registerAndLogIn(service: ServiceProcess, email: string): Promise<Login> {
  const post = (path: string) =>
    fetch(`${service.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
  expect((await post('/auth/register')).status).toBe(201);
  const login = await post('/auth/login');
  expect(login.status).toBe(200);
  const body = (await login.json()) as { accessToken: string; sessionId: string };
  const cookies = login.headers
    .getSetCookie()
    .map((cookie) => cookie.split(';')[0])
    .join('; ');
  return { accessToken: body.accessToken, sessionId: body.sessionId, cookies };
}

const me = (service: ServiceProcess, login: Login) =>
  fetch(`${service.url}/auth/me`, {
    headers: { authorization: `Bearer ${login.accessToken}`, cookie: login.cookies },
  });

/** The structured log lines of one event. */
const events = (output: string, event: string): Array<Record<string, unknown>> =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === event);

describe('DATA_DIR and restarts (e2e, real process)', () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'fpa-data-dir-e2e-'));
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('keeps logins across a SIGTERM restart on the quick-start defaults, with private files', async () => {
    const data = join(root, 'quick-start');
    const quickStart = { DATA_DIR: data, COOKIE_SECURE: 'false' };
    const first = await startService({ ...quickStart, LOG_LEVEL: 'info' }, 7800);
    let login: Login;
    try {
      login = await registerAndLogIn(first, 'restart@example.com');
      expect((await me(first, login)).status).toBe(200);

      const db = join(data, 'fingerprint-auth.db');
      expect({
        dir: mode(data),
        db: mode(db),
        wal: mode(`${db}-wal`),
        shm: mode(`${db}-shm`),
        key: mode(join(data, 'jwt-secret')),
      }).toEqual({ dir: 0o700, db: 0o600, wal: 0o600, shm: 0o600, key: 0o600 });

      const output = first.output();
      const [where] = events(output, 'data_locations');
      expect(where).toMatchObject({
        users: `sqlite:${db}`,
        sessions: `memory, snapshot every 60 s at ${join(data, 'sessions.snapshot')}: a restart keeps them, a crash loses at most 60 s`,
        signingKey: expect.stringContaining(`${join(data, 'jwt-secret')} (generated now`),
      });
      expect(events(output, 'data_locations')).toHaveLength(1);
      expect(events(output, 'jwt_secret_generated')).toHaveLength(1);
      expect(events(output, 'data_permissions')).toEqual([]);
      expect(output).not.toContain(readFileSync(join(data, 'jwt-secret'), 'utf8'));
    } finally {
      expect(await first.stop('SIGTERM')).toBe(0);
    }
    expect(mode(join(data, 'sessions.snapshot'))).toBe(0o600);

    const second = await startService({ ...quickStart, LOG_LEVEL: 'info' }, 7801);
    try {
      expect((await me(second, login)).status).toBe(200);
      expect(events(second.output(), 'jwt_secret_generated')).toEqual([]);
      expect(events(second.output(), 'data_locations')[0]).toMatchObject({
        signingKey: expect.stringContaining('generated on an earlier start'),
      });
    } finally {
      await second.stop();
    }
  });

  it('keeps a login across a SIGKILL once the session is in the last snapshot', async () => {
    const data = join(root, 'crash');
    const env = { DATA_DIR: data, COOKIE_SECURE: 'false', SESSION_SNAPSHOT_INTERVAL: '1' };
    const snapshot = join(data, 'sessions.snapshot');
    const first = await startService(env, 7802);
    let login: Login;
    try {
      login = await registerAndLogIn(first, 'crash@example.com');
      // Bounded wait for a periodic write that holds the session (the id is in the file).
      const deadline = Date.now() + 15_000;
      while (!(existsSync(snapshot) && readFileSync(snapshot, 'utf8').includes(login.sessionId))) {
        if (Date.now() > deadline) throw new Error('no snapshot with the session within 15 s');
        await sleep(100);
      }
    } finally {
      await first.stop('SIGKILL');
    }
    const second = await startService(env, 7803);
    try {
      expect((await me(second, login)).status).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it('warns about every data file or directory open to others, naming it and the chmod that fixes it', async () => {
    const data = join(root, 'loose');
    mkdirSync(data);
    chmodSync(data, 0o755);
    const key = join(data, 'jwt-secret');
    writeFileSync(key, randomBytes(48).toString('base64url'));
    chmodSync(key, 0o644);
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    const db = join(elsewhere, 'users.db');
    writeFileSync(db, '');
    chmodSync(db, 0o640);
    const snapshot = join(elsewhere, 'sessions.snapshot');
    await writeSnapshot(snapshot, []);
    chmodSync(snapshot, 0o604);

    const service = await startService(
      {
        DATA_DIR: data,
        DATABASE_URL: `sqlite:${db}`,
        SESSION_SNAPSHOT_PATH: snapshot,
        COOKIE_SECURE: 'false',
      },
      7804,
    );
    try {
      const warnings = events(service.output(), 'data_permissions').map(({ path, mode, fix }) => ({
        path,
        mode,
        fix,
      }));
      expect(warnings).toEqual([
        { path: data, mode: '0755', fix: `chmod 700 ${data}` },
        { path: key, mode: '0644', fix: `chmod 600 ${key}` },
        { path: db, mode: '0640', fix: `chmod 600 ${db} ${db}-wal ${db}-shm` },
        { path: snapshot, mode: '0604', fix: `chmod 600 ${snapshot}` },
      ]);
      // Warned, not changed: the operator decides.
      expect(mode(data)).toBe(0o755);
    } finally {
      await service.stop();
    }
  });

  it('reads the key from JWT_SECRET_FILE (one trailing newline trimmed) and writes none in DATA_DIR', async () => {
    const data = join(root, 'secret-file');
    const key = randomBytes(48).toString('base64url');
    const file = join(root, 'mounted-jwt-secret');
    writeFileSync(file, `${key}\n`);
    const common = { DATA_DIR: data, COOKIE_SECURE: 'false', LOG_LEVEL: 'info' };
    const first = await startService({ ...common, JWT_SECRET_FILE: file }, 7805);
    let login: Login;
    try {
      login = await registerAndLogIn(first, 'file@example.com');
      expect(events(first.output(), 'data_locations')[0]).toMatchObject({
        signingKey: `JWT_SECRET_FILE (${file})`,
      });
      expect(first.output()).not.toContain(key);
      expect(existsSync(join(data, 'jwt-secret'))).toBe(false);
    } finally {
      await first.stop();
    }
    // The same key given directly verifies the same tokens: the file held exactly the key.
    const second = await startService({ ...common, JWT_SECRET: key }, 7806);
    try {
      expect((await me(second, login)).status).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it('refuses to start on an unusable key, naming the variable, without a stack trace', async () => {
    const data = join(root, 'refused');
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['a missing file', { JWT_SECRET_FILE: join(root, 'nope') }, /JWT_SECRET_FILE: cannot read/],
      [
        'an empty file',
        { JWT_SECRET_FILE: (writeFileSync(join(root, 'empty'), '\n'), join(root, 'empty')) },
        /JWT_SECRET_FILE: .* is empty/,
      ],
      [
        'both',
        { JWT_SECRET: randomBytes(48).toString('base64url'), JWT_SECRET_FILE: join(root, 'x') },
        /JWT_SECRET and JWT_SECRET_FILE are both set/,
      ],
      ['a weak key', { JWT_SECRET: 'g'.repeat(32) }, /JWT_SECRET must have at least 16 distinct/],
      [
        'a weak previous key',
        {
          JWT_SECRET: randomBytes(48).toString('base64url'),
          JWT_PREVIOUS_SECRETS: 'z'.repeat(40),
        },
        /JWT_PREVIOUS_SECRETS \(entry 1\)/,
      ],
    ];
    for (const [name, env, expected] of cases) {
      const { code, output } = await runUntilExit({ DATA_DIR: data, ...env });
      expect({ name, code, named: expected.test(output), stack: /\n\s+at /.test(output) }).toEqual({
        name,
        code: 1,
        named: true,
        stack: false,
      });
      expect(output).not.toContain('g'.repeat(32));
    }
  });

  it('generates one key when two first starts share a DATA_DIR', async () => {
    const data = join(root, 'together');
    const common = { DATA_DIR: data, COOKIE_SECURE: 'false', LOG_LEVEL: 'info' };
    const [a, b] = await Promise.all([
      startService(common, 7807),
      // Its own user database and no snapshot: only the key is shared.
      startService(
        {
          ...common,
          DATABASE_URL: `sqlite:${join(root, 'together-b.db')}`,
          SESSION_SNAPSHOT_PATH: 'off',
        },
        7808,
      ),
    ]);
    try {
      const ids = [a, b].map(
        (service) => events(service.output(), 'data_locations')[0]?.signingKeyId,
      );
      expect(ids[0]).toEqual(expect.any(String));
      expect(ids[1]).toBe(ids[0]);
      const generated = [a, b].flatMap((service) =>
        events(service.output(), 'jwt_secret_generated'),
      );
      expect(generated).toHaveLength(1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
