import { randomBytes } from 'node:crypto';
import { createServer, connect, Server, Socket } from 'node:net';
import { Client } from 'pg';
import { startApp, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';
import { describeWithPostgres } from './support/services';

/** Loopback port of the TCP proxy in front of PostgreSQL (this suite's range: 7500-7549). */
const PROXY_PORT = 7510;
const PASSWORD = 'correct horse battery staple';
const uniqueEmail = () => `h-${Math.random().toString(36).slice(2)}@example.com`;

interface HealthBody {
  status: 'ok' | 'error';
  info?: Record<string, Record<string, unknown>>;
  error?: Record<string, Record<string, unknown>>;
  details: Record<string, Record<string, unknown>>;
}

async function withApp(
  overrides: Record<string, string>,
  body: (target: TestApp) => Promise<void>,
): Promise<void> {
  // One app at a time: Passport keeps one 'jwt' strategy per process.
  const target = await startApp(overrides);
  try {
    await body(target);
  } finally {
    await target.close();
  }
}

const get = async (target: TestApp, url: string) => {
  const response = await target.inject({ method: 'GET', url });
  return { status: response.statusCode, body: response.json<HealthBody>(), text: response.body };
};

describe('health probes (e2e)', () => {
  it('liveness checks no dependency; readiness reports store, database and heap', async () => {
    await withApp({}, async (target) => {
      const live = await get(target, '/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: 'ok', info: {}, error: {}, details: {} });

      const ready = await get(target, '/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.body.details).toEqual({
        lifecycle: { status: 'up' },
        sessionStore: {
          status: 'up',
          live: 0,
          expired: 0,
          capacity: 1_000_000,
          estimatedBytes: 0,
        },
        userDatabase: { status: 'up' },
        heap: { status: 'up' },
      });
      expect(ready.text).not.toMatch(/sqlite|memory:|secret/i);
    });
  });

  it('readiness is 503 while the session store is at capacity, and 200 once there is room', async () => {
    await withApp({ SESSION_CAPACITY: '2' }, async (target) => {
      const email = uniqueEmail();
      const first = await signedInClient(target, email, PASSWORD);
      expect((await get(target, '/health/ready')).status).toBe(200);
      await new TestClient(target).login(email, PASSWORD);

      const full = await get(target, '/health/ready');
      expect(full.status).toBe(503);
      expect(full.body.status).toBe('error');
      expect(full.body.error?.sessionStore).toMatchObject({
        status: 'down',
        live: 2,
        capacity: 2,
        message: 'session store is at capacity',
      });
      expect(full.body.details.userDatabase).toEqual({ status: 'up' });
      // Liveness does not care: restarting a full pod would only log everyone out.
      expect((await get(target, '/health/live')).status).toBe(200);
      // A third login is turned away, the existing sessions still work.
      const third = await new TestClient(target).post('/auth/login', { email, password: PASSWORD });
      expect(third.statusCode).toBe(503);
      expect((await first.get('/auth/me')).statusCode).toBe(200);

      expect((await first.post('/auth/logout')).statusCode).toBe(204);
      const again = await get(target, '/health/ready');
      expect(again.status).toBe(200);
      expect(again.body.details.sessionStore).toMatchObject({ status: 'up', live: 1 });
    });
  });

  it('readiness is 503 when the heap is above HEALTH_HEAP_LIMIT_MB', async () => {
    // Any Nest app under Jest uses more than 16 MiB of heap.
    await withApp({ HEALTH_HEAP_LIMIT_MB: '16' }, async (target) => {
      const ready = await get(target, '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.error?.heap).toMatchObject({ status: 'down' });
      expect(ready.body.details.sessionStore).toMatchObject({ status: 'up' });
      expect((await get(target, '/health/live')).status).toBe(200);
    });
  });
});

/** A TCP proxy that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private open = true;
  private server?: Server;

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  async listen(port: number): Promise<void> {
    this.server = createServer((client) => {
      if (!this.open) {
        client.destroy();
        return;
      }
      const upstream = connect(this.upstreamPort, this.upstreamHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject).listen(port, '127.0.0.1', resolve);
    });
  }

  cut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

describeWithPostgres('readiness with PostgreSQL behind a cuttable link (e2e)', (url) => {
  const database = `fpa_ops_health_${randomBytes(4).toString('hex')}`;
  const upstream = new URL(url);
  let proxy: CuttableProxy;

  beforeAll(async () => {
    const admin = new Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`create database ${database}`);
    } finally {
      await admin.end();
    }
    proxy = new CuttableProxy(upstream.hostname, Number(upstream.port || 5432));
    await proxy.listen(PROXY_PORT);
  });

  afterAll(async () => {
    await proxy?.close();
    const admin = new Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`drop database if exists ${database} with (force)`);
    } finally {
      await admin.end();
    }
  });

  it('answers 503 while the database is unreachable and 200 again once it is back', async () => {
    const through = new URL(url);
    through.hostname = '127.0.0.1';
    through.port = String(PROXY_PORT);
    through.pathname = `/${database}`;
    await withApp({ DATABASE_URL: through.toString() }, async (target) => {
      expect((await get(target, '/health/ready')).status).toBe(200);

      proxy.cut();
      const down = await get(target, '/health/ready');
      expect(down.status).toBe(503);
      expect(down.body.error?.userDatabase).toEqual({
        status: 'down',
        message: 'user database did not answer',
      });
      expect(down.body.details.sessionStore).toMatchObject({ status: 'up' });
      // No connection string, host, port or driver message in the answer.
      expect(down.text).not.toContain(String(PROXY_PORT));
      expect(down.text).not.toMatch(/postgres|127\.0\.0\.1|ECONN|terminated/i);
      expect((await get(target, '/health/live')).status).toBe(200);
      // Registering needs the database: a clear 503 with Retry-After, not a 500.
      const register = await target.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email: uniqueEmail(), password: PASSWORD },
      });
      expect(register.statusCode).toBe(503);
      expect(register.headers['retry-after']).toBeDefined();

      proxy.restore();
      let status = 0;
      for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
        status = (await get(target, '/health/ready')).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(200);
      const email = uniqueEmail();
      await signedInClient(target, email, PASSWORD);
    });
  });
});
