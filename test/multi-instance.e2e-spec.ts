import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createRedisClient, waitUntilReady } from '../src/redis/redis-client';
import { TEST_SECRET } from './support/app';
import { startService, ServiceProcess } from './support/process';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import { describeWithPostgres, describeWithRedis } from './support/services';

const PASSWORD = 'correct horse battery staple';
const uniqueEmail = () => `mi-${randomBytes(6).toString('hex')}@example.com`;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * A cookie-keeping HTTP client that may talk to any instance: with COOKIE_SECURE=false the
 * fingerprint cookie is `fgp` and the refresh cookie `fpa_refresh`, sent like a browser would.
 */
class HttpClient {
  readonly cookies = new Map<string, string>();
  accessToken?: string;
  sessionId?: string;

  async request(
    service: ServiceProcess,
    method: string,
    path: string,
    payload?: unknown,
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.accessToken) headers.authorization = `Bearer ${this.accessToken}`;
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      if (value === '' || /max-age=0/i.test(cookie)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
  }

  login(service: ServiceProcess, email: string): Promise<Answer> {
    return this.keep(this.request(service, 'POST', '/auth/login', { email, password: PASSWORD }));
  }

  refresh(service: ServiceProcess): Promise<Answer> {
    return this.keep(this.request(service, 'POST', '/auth/refresh'));
  }

  private async keep(pending: Promise<Answer>): Promise<Answer> {
    const answer = await pending;
    if (answer.status === 200) {
      this.accessToken = answer.body.accessToken as string;
      this.sessionId = answer.body.sessionId as string;
    }
    return answer;
  }
}

describeWithRedis('several instances sharing Redis and PostgreSQL (e2e)', (redisUrl) => {
  describeWithPostgres('two service processes', (postgresUrl) => {
    const database = `fpa_mi_${randomBytes(6).toString('hex')}`;
    const prefix = randomKeyPrefix('mi');
    let admin: Client;

    beforeAll(async () => {
      admin = new Client({ connectionString: postgresUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${database}`);
    });

    afterAll(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
      const redis = createRedisClient(redisUrl);
      try {
        await waitUntilReady(redis, 5000);
        await deleteKeysWithPrefix(redis, prefix);
      } finally {
        redis.disconnect();
      }
    });

    const databaseUrl = () => {
      const url = new URL(postgresUrl);
      url.pathname = `/${database}`;
      return url.toString();
    };

    async function startPair(policy: 'evict-oldest' | 'reject', ports: [number, number]) {
      const env = {
        NODE_ENV: 'test',
        JWT_SECRET: TEST_SECRET,
        COOKIE_SECURE: 'false',
        GEOIP: 'off',
        SESSION_STORE: 'redis',
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: prefix,
        DATABASE_URL: databaseUrl(),
        MAX_SESSIONS_PER_USER: '5',
        SESSION_LIMIT_POLICY: policy,
        // 20 logins of one account in a moment: a brute-force pattern the default limit stops.
        RATE_LIMIT_LOGIN_PER_ACCOUNT: '100',
      };
      // One after the other: both would run the user-table migration at once otherwise.
      const a = await startService(env, ports[0]);
      try {
        return [a, await startService(env, ports[1])] as const;
      } catch (error) {
        await a.stop();
        throw error;
      }
    }

    describe.each([
      ['evict-oldest', [7340, 7341]],
      ['reject', [7342, 7343]],
    ] as const)('per-user limit %s', (policy, ports) => {
      let a: ServiceProcess;
      let b: ServiceProcess;

      beforeAll(async () => {
        [a, b] = await startPair(policy, [...ports]);
      }, 60_000);

      afterAll(async () => {
        await Promise.all([a?.stop(), b?.stop()]);
      });

      it('accepts on B what A issued, and once B revokes it A refuses the very next request', async () => {
        const email = uniqueEmail();
        const laptop = new HttpClient();
        expect(
          (await laptop.request(a, 'POST', '/auth/register', { email, password: PASSWORD })).status,
        ).toBe(201);
        expect((await laptop.login(a, email)).status).toBe(200);
        const phone = new HttpClient();
        expect((await phone.login(b, email)).status).toBe(200);

        const me = await laptop.request(b, 'GET', '/auth/me');
        expect(me).toMatchObject({ status: 200, body: { email, sessionId: laptop.sessionId } });
        const listed = await laptop.request(b, 'GET', '/sessions');
        expect(listed.status).toBe(200);
        const sessions = listed.body.sessions as { id: string; current: boolean }[];
        expect(sessions.map((s) => s.id).sort()).toEqual(
          [laptop.sessionId, phone.sessionId].sort(),
        );

        expect((await phone.request(b, 'DELETE', `/sessions/${laptop.sessionId}`)).status).toBe(
          204,
        );
        expect((await laptop.request(a, 'GET', '/auth/me')).status).toBe(401);
        expect((await laptop.request(b, 'GET', '/auth/me')).status).toBe(401);
        expect((await phone.request(a, 'GET', '/auth/me')).status).toBe(200);

        // Refresh rotation is shared too: the credential A rotated to is the one B accepts next.
        const before = phone.cookies.get('fpa_refresh');
        expect((await phone.refresh(a)).status).toBe(200);
        expect(phone.cookies.get('fpa_refresh')).not.toBe(before);
        expect((await phone.refresh(b)).status).toBe(200);
        expect((await phone.request(b, 'GET', '/auth/me')).status).toBe(200);
      });

      it('sees an account deleted on A at once on B: no token, refresh or login of it works', async () => {
        const email = uniqueEmail();
        const laptop = new HttpClient();
        expect(
          (await laptop.request(a, 'POST', '/auth/register', { email, password: PASSWORD })).status,
        ).toBe(201);
        expect((await laptop.login(a, email)).status).toBe(200);
        const phone = new HttpClient();
        expect((await phone.login(b, email)).status).toBe(200);
        // What the laptop held before the deletion cleared its cookies.
        const kept = new HttpClient();
        kept.accessToken = laptop.accessToken;
        for (const [name, value] of laptop.cookies) kept.cookies.set(name, value);

        const deleted = await laptop.request(a, 'DELETE', '/account', { password: PASSWORD });
        expect(deleted.status).toBe(204);

        for (const client of [kept, phone]) {
          expect((await client.request(b, 'GET', '/sessions')).status).toBe(401);
          expect((await client.request(b, 'GET', '/auth/me')).status).toBe(401);
          expect((await client.refresh(b)).status).toBe(401);
        }
        expect((await new HttpClient().login(b, email)).status).toBe(401);
        expect(
          (
            await new HttpClient().request(b, 'POST', '/auth/register', {
              email,
              password: PASSWORD,
            })
          ).status,
        ).toBe(201);
      });

      it('holds the per-user limit exactly under 20 parallel logins split across A and B', async () => {
        const email = uniqueEmail();
        expect(
          (
            await new HttpClient().request(a, 'POST', '/auth/register', {
              email,
              password: PASSWORD,
            })
          ).status,
        ).toBe(201);
        const clients = Array.from({ length: 20 }, () => new HttpClient());
        const answers = await Promise.all(
          clients.map((client, i) => client.login(i % 2 === 0 ? a : b, email)),
        );
        const statuses = answers.map((answer) => answer.status);
        if (policy === 'reject') {
          expect(statuses.filter((status) => status === 200)).toHaveLength(5);
          expect(statuses.filter((status) => status === 409)).toHaveLength(15);
        } else {
          expect(statuses).toEqual(Array(20).fill(200));
        }

        const admitted = clients.filter((_, i) => answers[i].status === 200);
        const live: HttpClient[] = [];
        for (const [i, client] of admitted.entries()) {
          const me = await client.request(i % 2 === 0 ? b : a, 'GET', '/auth/me');
          if (me.status === 200) live.push(client);
          else expect(me.status).toBe(401);
        }
        expect(live).toHaveLength(5);
        for (const service of [a, b]) {
          const listed = await live[0].request(service, 'GET', '/sessions');
          expect((listed.body.sessions as { id: string }[]).map((s) => s.id).sort()).toEqual(
            live.map((client) => client.sessionId).sort(),
          );
        }
      });
    });
  });
});
