import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRET } from './support/app';
import { startService } from './support/process';

/** Structured logs of the real process (LOG_LEVEL=info), read from its stdout. Port 7521. */
const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'another horse battery staple';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface LogLine {
  level: string;
  reqId?: string;
  context?: string;
  event?: string;
  msg?: string;
  req?: { headers: Record<string, string> };
  res?: { statusCode: number; headers: Record<string, string> };
}

describe('logs (e2e, real process)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-logs-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes JSON lines with the request id, and never a password, token or cookie value', async () => {
    const service = await startService(
      {
        DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
        COOKIE_SECURE: 'false',
        JWT_SECRET: TEST_SECRET,
        LOG_LEVEL: 'info',
      },
      7521,
    );
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${service.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const secrets: string[] = [PASSWORD, NEW_PASSWORD, 'wrong password 123'];
    try {
      const email = 'logs@example.com';
      expect((await post('/auth/register', { email, password: PASSWORD })).status).toBe(201);

      const login = await post(
        '/auth/login',
        { email, password: PASSWORD },
        { 'x-request-id': 'login-ok-1' },
      );
      expect(login.status).toBe(200);
      expect(login.headers.get('x-request-id')).toBe('login-ok-1');
      const { accessToken, sessionId } = (await login.json()) as {
        accessToken: string;
        sessionId: string;
      };
      const cookies = login.headers.getSetCookie().map((cookie) => cookie.split(';')[0]);
      expect(cookies).toHaveLength(2);
      secrets.push(accessToken, ...cookies.map((cookie) => cookie.slice(cookie.indexOf('=') + 1)));

      const failed = await post(
        '/auth/login',
        { email, password: 'wrong password 123' },
        { 'x-request-id': 'login-bad-1' },
      );
      expect(failed.status).toBe(401);
      expect(failed.headers.get('x-request-id')).toBe('login-bad-1');

      const auth = { authorization: `Bearer ${accessToken}`, cookie: cookies.join('; ') };
      const changed = await post(
        '/auth/password',
        { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
        { ...auth, 'x-request-id': 'password-1' },
      );
      expect(changed.status).toBe(200);

      // An id that is too long or not plain is replaced by a generated one.
      const unsafe = await fetch(`${service.url}/auth/me`, {
        headers: { ...auth, 'x-request-id': `evil id ${'x'.repeat(80)}` },
      });
      expect(unsafe.status).toBe(200);
      const generated = unsafe.headers.get('x-request-id') as string;
      expect(generated).toMatch(UUID);

      expect(await service.stop()).toBe(0);
      const output = service.output();
      const lines = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogLine);
      const of = (id: string) => lines.filter((line) => line.reqId === id);

      // Success and failure, each tied to its request, security events at their levels.
      expect(of('login-ok-1')).toContainEqual(
        expect.objectContaining({ context: 'Security', event: 'login', level: 'info', sessionId }),
      );
      expect(of('login-bad-1')).toContainEqual(
        expect.objectContaining({ context: 'Security', event: 'login_failed', level: 'warn' }),
      );
      // Every line written for the successful login carries its id, the completion line too.
      const securityLines = lines.filter((line) => line.event === 'login');
      expect(securityLines.map((line) => line.reqId)).toEqual(['login-ok-1']);
      const completed = of('login-ok-1').find((line) => line.msg === 'request completed');
      expect(completed?.res?.statusCode).toBe(200);
      expect(completed?.res?.headers['set-cookie']).toBe('[redacted]');
      const passwordLine = of('password-1').find((line) => line.msg === 'request completed');
      expect(passwordLine?.req?.headers.authorization).toBe('[redacted]');
      expect(passwordLine?.req?.headers.cookie).toBe('[redacted]');
      expect(of(generated).some((line) => line.msg === 'request completed')).toBe(true);

      for (const secret of secrets) expect(output).not.toContain(secret);
    } finally {
      await service.stop('SIGKILL');
    }
  });
});
