import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_SECRET } from './support/app';
import { startService } from './support/process';
import { temporaryDirectory } from './support/temp-dir';

/** Sessions across a restart of the real process (SESSION_SNAPSHOT_PATH). Ports 7530-7533. */
const PASSWORD = 'correct horse battery staple';

describe('session snapshots (e2e, real process)', () => {
  const dir = temporaryDirectory('fpa-snapshot-e2e-');

  const env = (snapshot: string, extra: Record<string, string> = {}) => ({
    DATABASE_URL: `sqlite:${join(dir(), 'users.db')}`,
    COOKIE_SECURE: 'false',
    JWT_SECRET: TEST_SECRET,
    SESSION_SNAPSHOT_PATH: snapshot,
    ...extra,
  });

  const cookieValue = (cookies: string[], name: string) =>
    cookies
      .find((cookie) => cookie.startsWith(`${name}=`))
      ?.split(';')[0]
      .slice(name.length + 1) as string;

  it('keeps sessions across a restart: the old token, cookie and refresh credential still work', async () => {
    const snapshot = join(dir(), 'sessions.snapshot');
    const first = await startService(env(snapshot, { SESSION_SNAPSHOT_INTERVAL: '1' }), 7530);
    let accessToken: string;
    let sessionId: string;
    let cookies: string[];
    try {
      const email = 'restart@example.com';
      const register = await fetch(`${first.url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      expect(register.status).toBe(201);
      const login = await fetch(`${first.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      expect(login.status).toBe(200);
      ({ accessToken, sessionId } = (await login.json()) as {
        accessToken: string;
        sessionId: string;
      });
      cookies = login.headers.getSetCookie();

      // SESSION_SNAPSHOT_INTERVAL=1: written while running, before any shutdown.
      let written = false;
      for (let attempt = 0; attempt < 100 && !written; attempt++) {
        written = existsSync(snapshot) && readFileSync(snapshot, 'utf8').includes(sessionId);
        if (!written) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(written).toBe(true);
    } finally {
      expect(await first.stop('SIGTERM')).toBe(0);
    }

    const fingerprint = cookieValue(cookies, 'fgp');
    const refreshName = 'fpa_refresh';
    const refresh = cookieValue(cookies, refreshName);
    expect(fingerprint).toBeTruthy();
    expect(refresh).toBeTruthy();

    // The file: the owner's alone, self-identifying, with hashes and never the secrets.
    expect(statSync(snapshot).mode & 0o777).toBe(0o600);
    const contents = readFileSync(snapshot, 'utf8');
    expect(JSON.parse(contents.split('\n')[0])).toMatchObject({
      format: 'fingerprint-auth-sessions',
      version: 1,
    });
    expect(contents).toContain(sessionId);
    expect(contents).not.toContain(fingerprint);
    expect(contents).not.toContain(refresh);
    expect(contents).not.toContain(refresh.split('.').pop() as string);
    expect(contents).not.toContain(accessToken);
    expect(readdirSync(dir()).filter((name) => name.includes('.tmp'))).toEqual([]);

    const second = await startService(env(snapshot), 7531);
    try {
      const me = await fetch(`${second.url}/auth/me`, {
        headers: { authorization: `Bearer ${accessToken}`, cookie: `fgp=${fingerprint}` },
      });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ email: 'restart@example.com', sessionId });

      const refreshed = await fetch(`${second.url}/auth/refresh`, {
        method: 'POST',
        headers: { cookie: `${refreshName}=${refresh}` },
      });
      expect(refreshed.status).toBe(200);
      const body = (await refreshed.json()) as { accessToken: string; sessionId: string };
      expect(body.sessionId).toBe(sessionId);
      const newFingerprint = cookieValue(refreshed.headers.getSetCookie(), 'fgp');
      const again = await fetch(`${second.url}/auth/me`, {
        headers: { authorization: `Bearer ${body.accessToken}`, cookie: `fgp=${newFingerprint}` },
      });
      expect(again.status).toBe(200);
      // Without its cookie the old token is still useless.
      const bare = await fetch(`${second.url}/auth/me`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      expect(bare.status).toBe(401);
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0);
    }
  });

  it('moves a corrupt snapshot aside with a warning and starts empty', async () => {
    const snapshot = join(dir(), 'corrupt.snapshot');
    writeFileSync(
      snapshot,
      '{"format":"fingerprint-auth-sessions","version":1}\n["half a record\n',
    );
    const service = await startService(env(snapshot, { LOG_LEVEL: 'warn' }), 7532);
    try {
      const ready = await fetch(`${service.url}/health/ready`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { details: { sessionStore: { live: number } } };
      expect(body.details.sessionStore.live).toBe(0);
      const aside = readdirSync(dir()).filter((name) =>
        name.startsWith('corrupt.snapshot.corrupt-'),
      );
      expect(aside).toHaveLength(1);
      expect(existsSync(snapshot)).toBe(false);
      expect(service.output()).toContain('"event":"snapshot_corrupt"');
      expect(service.output()).toContain('moved to');
    } finally {
      expect(await service.stop('SIGTERM')).toBe(0);
    }
    // The shutdown wrote a good (empty) snapshot in its place.
    expect(readFileSync(snapshot, 'utf8')).toMatch(/^\{"format":"fingerprint-auth-sessions"/);
  });
});
