import { mkdtempSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRET } from './support/app';
import { startService } from './support/process';

/** The built service as a process, stopped with real signals. Ports 7522-7529. */
const PASSWORD = 'correct horse battery staple';

/**
 * A login whose request is in flight: headers sent with `Expect: 100-continue` and answered with
 * `100 Continue` (so the server has accepted the request), body held back until `finish()`.
 */
async function startLogin(port: number, email: string) {
  const body = JSON.stringify({ email, password: PASSWORD });
  const socket: Socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.write(
    [
      'POST /auth/login HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Expect: 100-continue',
      '',
      '',
    ].join('\r\n'),
  );
  for (let attempt = 0; attempt < 200 && !received.includes('100 Continue'); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (!received.includes('100 Continue')) throw new Error(`no 100 Continue: ${received}`);
  return {
    /** Sends the body and resolves with the final response once the server closes the socket. */
    async finish() {
      socket.write(body);
      await closed;
      const final = received.slice(received.indexOf('\r\n\r\n') + 4);
      const [head, ...rest] = final.split('\r\n\r\n');
      return { status: Number(head.split(' ')[1]), head, body: rest.join('\r\n\r\n') };
    },
    destroy: () => socket.destroy(),
  };
}

/** Polls readiness on fresh connections until it is 503 or the port refuses; returns which. */
async function readinessWhileDraining(url: string): Promise<'503' | 'refused' | 'still 200'> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const response = await fetch(`${url}/health/ready`, { headers: { connection: 'close' } });
      if (response.status === 503) return '503';
    } catch {
      return 'refused';
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return 'still 200';
}

describe('graceful shutdown (e2e, real process)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-shutdown-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (name: string, extra: Record<string, string> = {}) => ({
    DATABASE_URL: `sqlite:${join(dir, `${name}.db`)}`,
    COOKIE_SECURE: 'false',
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'info',
    ...extra,
  });

  async function register(url: string, email: string) {
    const response = await fetch(`${url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(response.status).toBe(201);
  }

  it('on SIGTERM turns readiness down, finishes the request in flight, then exits 0', async () => {
    const service = await startService(env('drain'), 7522);
    const email = 'drain@example.com';
    await register(service.url, email);
    const login = await startLogin(7522, email);
    try {
      const exited = service.stop('SIGTERM');

      // New traffic is turned away at once: 503 from readiness, or no connection at all.
      expect(['503', 'refused']).toContain(await readinessWhileDraining(service.url));

      // The login accepted before the signal still runs (argon2 and all) and gets its answer.
      const response = await login.finish();
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body)).toMatchObject({ tokenType: 'Bearer' });
      expect(response.head.toLowerCase()).toContain('connection: close');

      expect(await exited).toBe(0);
      const output = service.output();
      expect(output).toContain('"event":"shutdown_started"');
      expect(output).toContain('"event":"shutdown_complete"');
      expect(output).not.toContain('shutdown_forced');
    } finally {
      login.destroy();
      await service.stop('SIGKILL');
    }
  });

  it('exits anyway, non-zero and logged, when a request outlasts SHUTDOWN_TIMEOUT', async () => {
    const service = await startService(env('timeout', { SHUTDOWN_TIMEOUT: '1' }), 7523);
    const email = 'stuck@example.com';
    await register(service.url, email);
    // Headers accepted, body never sent: this request can only end by the timeout.
    const stuck = await startLogin(7523, email);
    try {
      const code = await service.stop('SIGTERM');
      expect(code).toBe(1);
      expect(service.output()).toContain('"event":"shutdown_forced"');
      expect(service.output()).toContain('SHUTDOWN_TIMEOUT');
    } finally {
      stuck.destroy();
      await service.stop('SIGKILL');
    }
  });
});
