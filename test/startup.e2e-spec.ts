import { mkdtempSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runUntilExit, startService } from './support/process';

/** The quick start, as a user runs it: the built service on its embedded defaults. Ports 7600-7609. */
describe('start-up (e2e, real process)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-startup-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts on the embedded default with no other service and serves a login', async () => {
    const data = join(dir, 'data');
    const database = join(data, 'fingerprint-auth.db');
    const service = await startService({ DATA_DIR: data, COOKIE_SECURE: 'false' }, 7601);
    try {
      expect(existsSync(database)).toBe(true);
      const ready = await fetch(`${service.url}/health/ready`);
      expect(ready.status).toBe(200);
      const register = await fetch(`${service.url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'quick@example.com', password: 'correct horse battery' }),
      });
      expect(register.status).toBe(201);
      const login = await fetch(`${service.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'quick@example.com', password: 'correct horse battery' }),
      });
      expect(login.status).toBe(200);
      const { accessToken } = (await login.json()) as { accessToken: string };
      const cookie = login.headers
        .getSetCookie()
        .find((c) => c.startsWith('fgp='))
        ?.split(';')[0] as string;
      const me = await fetch(`${service.url}/auth/me`, {
        headers: { authorization: `Bearer ${accessToken}`, cookie },
      });
      expect(me.status).toBe(200);
      // The key generated in DATA_DIR is announced with its place, never shown.
      const key = readFileSync(join(data, 'jwt-secret'), 'utf8');
      expect(service.output()).toContain('"event":"jwt_secret_generated"');
      expect(service.output()).toContain(join(data, 'jwt-secret'));
      expect(service.output()).not.toContain(key);
      expect(service.output()).not.toContain('random key for this process only');
      expect(service.output()).not.toContain(accessToken);
    } finally {
      await service.stop();
    }
  });

  it('refuses to start on a bad value and names the variable', async () => {
    const { code, output } = await runUntilExit({
      ACCESS_TOKEN_TTL: 'forever',
      DATABASE_URL: `sqlite:${join(dir, 'x.db')}`,
    });
    expect(code).not.toBe(0);
    expect(output).toContain('ACCESS_TOKEN_TTL');
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('refuses production without JWT_SECRET', async () => {
    const { code, output } = await runUntilExit({
      NODE_ENV: 'production',
      DATABASE_URL: `sqlite:${join(dir, 'y.db')}`,
    });
    expect(code).not.toBe(0);
    expect(output).toContain('JWT_SECRET or JWT_SECRET_FILE is required');
  });
});
