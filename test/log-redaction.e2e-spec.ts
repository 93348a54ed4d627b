import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRET } from './support/app';
import { databaseUrl, serverAddress, ThrowawayDatabases } from './support/postgres';
import { startService } from './support/process';
import { describeWithPostgres } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

/**
 * What the request log and the error log may hold, read from the real process's stdout.
 * Ports 7840 (service), 7841 (service on PostgreSQL) and 7842 (proxy in front of PostgreSQL).
 */
const PASSWORD = 'correct horse battery staple';

interface LogLine {
  level: string;
  reqId?: string;
  context?: string;
  event?: string;
  msg?: string;
  req?: { method: string; url: string; headers: Record<string, string> };
  res?: { statusCode: number };
  [field: string]: unknown;
}

const parseLines = (output: string): LogLine[] =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

describe('log redaction (e2e, real process)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-log-redaction-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('never writes query values, a Referer query or a credential header', async () => {
    const service = await startService(
      {
        DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
        COOKIE_SECURE: 'false',
        JWT_SECRET: TEST_SECRET,
        LOG_LEVEL: 'info',
      },
      7840,
    );
    const secrets = {
      accessToken: 'query-access-token-3f9a1c',
      apiKeyParam: 'query-api-key-77d2e0',
      bareToken: 'bare-query-token-a1b2c3',
      notFoundToken: 'not-found-query-token-5e6f',
      refererToken: 'referer-token-0c4d8b',
      proxyAuthorization: 'proxy-authorization-secret-91ab',
      apiKey: 'x-api-key-secret-2c7e',
      authToken: 'x-auth-token-secret-4d1f',
      custom: 'custom-header-secret-8e3a',
      loginPassword: PASSWORD,
    };
    try {
      const register = await fetch(`${service.url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'redaction@example.com', password: PASSWORD }),
      });
      expect(register.status).toBe(201);

      const me = await fetch(
        `${service.url}/auth/me?access_token=${secrets.accessToken}&api_key=${secrets.apiKeyParam}&${secrets.bareToken}`,
        {
          headers: {
            'x-request-id': 'redaction-1',
            'user-agent': 'redaction-test-agent/1.0',
            accept: 'application/json',
            'accept-language': 'en-GB',
            origin: 'https://app.example.com',
            referer: `https://app.example.com/account?token=${secrets.refererToken}#section`,
            'x-forwarded-for': '203.0.113.7',
            'proxy-authorization': `Basic ${secrets.proxyAuthorization}`,
            'x-api-key': secrets.apiKey,
            'x-auth-token': secrets.authToken,
            'x-my-company-secret': secrets.custom,
          },
        },
      );
      expect(me.status).toBe(401);
      const unknown = await fetch(`${service.url}/no/such/path?session=${secrets.notFoundToken}`, {
        headers: { 'x-request-id': 'redaction-2' },
      });
      expect(unknown.status).toBe(404);
      // The 404 answer does not repeat the query either.
      expect(await unknown.text()).not.toContain(secrets.notFoundToken);

      expect(await service.stop()).toBe(0);
      const output = service.output();
      for (const secret of Object.values(secrets)) expect(output).not.toContain(secret);

      const lines = parseLines(output);
      const completed = (id: string) =>
        lines.find((line) => line.reqId === id && line.msg === 'request completed');
      const meLine = completed('redaction-1');
      expect(meLine?.req).toEqual({
        method: 'GET',
        url: '/auth/me?access_token=[redacted]&api_key=[redacted]&[redacted]',
        headers: expect.any(Object),
        remoteAddress: '127.0.0.1',
      });
      const headers = meLine?.req?.headers as Record<string, string>;
      expect(headers).toMatchObject({
        host: '127.0.0.1:7840',
        'user-agent': 'redaction-test-agent/1.0',
        accept: 'application/json',
        'accept-language': 'en-GB',
        origin: 'https://app.example.com',
        referer: 'https://app.example.com/account',
        'x-request-id': 'redaction-1',
        'x-forwarded-for': '203.0.113.7',
        // Named, so an operator sees they were sent, but never their values.
        'proxy-authorization': '[redacted]',
        'x-api-key': '[redacted]',
        'x-auth-token': '[redacted]',
        'x-my-company-secret': '[redacted]',
      });
      expect(completed('redaction-2')?.req?.url).toBe('/no/such/path?session=[redacted]');
    } finally {
      await service.stop('SIGKILL');
    }
  });
});

describeWithPostgres('store outage logs (e2e, real process)', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl, 'fpa_logs');
  let proxy: TcpProxy;

  afterAll(async () => {
    await proxy?.close();
    await databases.dropAll();
  });

  it('logs a 503 with a classified reason and code, never the host, port or user', async () => {
    const { url } = await databases.create();
    proxy = await TcpProxy.start(serverAddress(serverUrl), 7842);
    const proxyUrl = databaseUrl(url, new URL(url).pathname.slice(1), {
      host: '127.0.0.1',
      port: proxy.port,
    });
    const user = decodeURIComponent(new URL(serverUrl).username);
    const service = await startService(
      {
        DATABASE_URL: proxyUrl,
        COOKIE_SECURE: 'false',
        JWT_SECRET: TEST_SECRET,
        LOG_LEVEL: 'info',
      },
      7841,
    );
    try {
      const login = (id: string) =>
        fetch(`${service.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify({ email: 'outage@example.com', password: PASSWORD }),
        });
      expect((await login('before-cut')).status).toBe(401);
      await proxy.cut();
      for (const id of ['cut-1', 'cut-2']) expect((await login(id)).status).toBe(503);
      expect(await service.stop()).toBe(0);

      const failures = parseLines(service.output()).filter(
        (line) => line.event === 'store_unavailable',
      );
      expect(failures.map((line) => line.reqId)).toEqual(['cut-1', 'cut-2']);
      // The pooled connection was reset (lost, or refused if the pool noticed first); the next
      // request's new connection is refused.
      expect(failures[1]).toMatchObject({ reason: 'connection_refused', code: 'ECONNREFUSED' });
      for (const line of failures) {
        expect(line).toMatchObject({ level: 'error', context: 'Errors', store: 'users' });
        expect(['connection_refused', 'connection_lost']).toContain(line.reason);
        if (line.code !== undefined) expect(line.code).toMatch(/^[A-Z0-9_]+$/);
        const text = JSON.stringify(line);
        for (const leak of ['127.0.0.1', String(proxy.port), user, 'postgres']) {
          expect(text).not.toContain(leak);
        }
      }
    } finally {
      await service.stop('SIGKILL');
    }
  });
});
