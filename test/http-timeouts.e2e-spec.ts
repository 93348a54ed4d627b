import { mkdtempSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRET } from './support/app';
import { startService } from './support/process';

/**
 * REQUEST_TIMEOUT, HEADERS_TIMEOUT and KEEP_ALIVE_TIMEOUT against the built service, over raw
 * sockets that send slowly. Ports 7843-7844. No timing assertions: only what the server answered
 * and whether it answered before the client had finished.
 */
const PASSWORD = 'correct horse battery staple';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RawConnection {
  readonly socket: Socket;
  received(): string;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

function open(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const whenClosed = new Promise<void>((done) =>
      socket.once('close', () => {
        closed = true;
        done();
      }),
    );
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve({ socket, received: () => received, closed: whenClosed, isClosed: () => closed });
    });
  });
}

/**
 * Writes `text` one byte every `intervalMs` until it is all sent or the server has answered or
 * closed; bounded by the text's length. Returns how many bytes went out.
 */
async function trickle(connection: RawConnection, text: string, intervalMs = 50): Promise<number> {
  let sent = 0;
  while (sent < text.length && connection.received() === '' && !connection.isClosed()) {
    connection.socket.write(text[sent]);
    sent++;
    await sleep(intervalMs);
  }
  return sent;
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);

function registerHead(port: number, body: string, extra: string[] = []): string {
  return [
    'POST /auth/register HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...extra,
    '',
    '',
  ].join('\r\n');
}

describe('request timeouts (e2e, real process)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-timeouts-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (name: string, extra: Record<string, string>) => ({
    DATABASE_URL: `sqlite:${join(dir, `${name}.db`)}`,
    COOKIE_SECURE: 'false',
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'info',
    ...extra,
  });

  const register = (url: string, email: string) =>
    fetch(`${url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, displayName: 'Slow Sender' }),
    });

  describe('while serving', () => {
    const port = 7843;
    let service: Awaited<ReturnType<typeof startService>>;

    beforeAll(async () => {
      service = await startService(
        env('serving', { REQUEST_TIMEOUT: '1', HEADERS_TIMEOUT: '1', KEEP_ALIVE_TIMEOUT: '1' }),
        port,
      );
    });

    afterAll(async () => {
      await service?.stop('SIGKILL');
    });

    it('answers 408 to a body sent a byte at a time before it is complete, and runs no handler', async () => {
      const email = 'slow-body@example.com';
      const body = JSON.stringify({
        email,
        password: PASSWORD,
        displayName: `Slow Sender ${'x'.repeat(200)}`,
      });
      const connection = await open(port);
      connection.socket.write(registerHead(port, body));
      const sent = await trickle(connection, body);
      await connection.closed;

      expect(sent).toBeLessThan(body.length);
      expect(statusOf(connection.received())).toBe(408);
      // Nothing was stored: the same email registers now.
      expect((await register(service.url, email)).status).toBe(201);
    });

    it('answers 408 to headers sent a byte at a time before they are complete', async () => {
      const head = registerHead(port, '{}', [
        ...Array.from({ length: 20 }, (_, i) => `X-Padding-${i}: ${'p'.repeat(20)}`),
      ]);
      const connection = await open(port);
      const sent = await trickle(connection, head);
      await connection.closed;

      expect(sent).toBeLessThan(head.length);
      expect(statusOf(connection.received())).toBe(408);
    });

    it('closes a keep-alive connection left idle for KEEP_ALIVE_TIMEOUT', async () => {
      const connection = await open(port);
      connection.socket.write(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<'still open'>((resolve) => {
        timer = setTimeout(() => resolve('still open'), 15_000);
      });
      const outcome = await Promise.race([
        connection.closed.then(() => 'closed' as const),
        bounded,
      ]);
      clearTimeout(timer);
      connection.socket.destroy();

      expect(outcome).toBe('closed');
      expect(statusOf(connection.received())).toBe(200);
      expect(connection.received().toLowerCase()).toContain('connection: keep-alive');
    });
  });

  it('cuts off a client still sending when a shutdown starts, and exits 0 well before the deadline', async () => {
    const port = 7844;
    const service = await startService(
      env('drain', { REQUEST_TIMEOUT: '3', HEADERS_TIMEOUT: '3', SHUTDOWN_TIMEOUT: '60' }),
      port,
    );
    const connection = await open(port);
    try {
      const email = 'drain-slow@example.com';
      const body = JSON.stringify({ email, password: PASSWORD, displayName: 'x'.repeat(300) });
      connection.socket.write(registerHead(port, body, ['Expect: 100-continue']));
      for (let attempt = 0; attempt < 200 && !connection.received().includes('100 Continue');) {
        attempt++;
        await sleep(25);
      }
      expect(connection.received()).toContain('100 Continue');
      const interim = connection.received().length;

      // The request is accepted and its body is on its way, slowly, when SIGTERM arrives.
      const exited = service.stop('SIGTERM');
      let sent = 0;
      while (sent < body.length && connection.received().length === interim) {
        if (connection.isClosed()) break;
        connection.socket.write(body[sent]);
        sent++;
        await sleep(50);
      }
      await connection.closed;

      expect(sent).toBeLessThan(body.length);
      expect(statusOf(connection.received().slice(interim))).toBe(408);
      expect(await exited).toBe(0);
      const output = service.output();
      expect(output).toContain('"event":"shutdown_cut_slow_senders"');
      expect(output).toContain('"event":"shutdown_complete"');
      expect(output).not.toContain('shutdown_forced');
    } finally {
      connection.socket.destroy();
      await service.stop('SIGKILL');
    }
  });
});
