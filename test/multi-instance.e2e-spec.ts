import { randomBytes } from 'node:crypto';
import { createRedisClient, waitUntilReady } from '../src/redis/redis-client';
import { TEST_SECRET } from './support/app';
import { Answer, HttpClient, PASSWORD } from './support/http-client';
import { ThrowawayDatabases } from './support/postgres';
import { startService, ServiceProcess } from './support/process';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import { describeWithPostgres, describeWithRedis } from './support/services';

const uniqueEmail = () => `mi-${randomBytes(6).toString('hex')}@example.com`;

type Policy = 'evict-oldest' | 'reject';

/** Where the instances keep their sessions, and the loopback ports of each policy's pair. */
interface SharedStore {
  store: 'redis' | 'sql';
  title: string;
  ports: Record<Policy, [number, number]>;
}

const STORES: SharedStore[] = [
  {
    store: 'redis',
    title: 'sessions in Redis, users in PostgreSQL',
    ports: { 'evict-oldest': [7340, 7341], reject: [7342, 7343] },
  },
  {
    store: 'sql',
    title: 'sessions and users in PostgreSQL (SESSION_STORE=sql, no Redis)',
    ports: { 'evict-oldest': [7923, 7924], reject: [7925, 7926] },
  },
];

/**
 * A suite for a store: SESSION_STORE=redis needs Redis and PostgreSQL, SESSION_STORE=sql only
 * PostgreSQL. `body` gets the environment the instances share (the store and its connections)
 * and registers its own clean-up.
 */
function describeWithStore(
  { store, title }: SharedStore,
  body: (sharedEnv: () => Record<string, string>) => void,
): void {
  describeWithPostgres(title, (postgresUrl) => {
    const databases = new ThrowawayDatabases(postgresUrl, 'fpa_mi');
    let databaseUrl: string;
    beforeAll(async () => {
      databaseUrl = (await databases.create()).url;
    });
    afterAll(() => databases.dropAll());
    if (store === 'sql') {
      body(() => ({ SESSION_STORE: 'sql', DATABASE_URL: databaseUrl }));
      return;
    }
    describeWithRedis('with Redis', (redisUrl) => {
      const prefix = randomKeyPrefix('mi');
      afterAll(async () => {
        const redis = createRedisClient(redisUrl);
        try {
          await waitUntilReady(redis, 5000);
          await deleteKeysWithPrefix(redis, prefix);
        } finally {
          redis.disconnect();
        }
      });
      body(() => ({
        SESSION_STORE: 'redis',
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: prefix,
        DATABASE_URL: databaseUrl,
      }));
    });
  });
}

describe.each(STORES)('several instances sharing their stores (e2e): $store', (shared) => {
  describeWithStore(shared, (sharedEnv) => {
    async function startPair(policy: Policy, ports: [number, number]) {
      const env = {
        NODE_ENV: 'test',
        JWT_SECRET: TEST_SECRET,
        COOKIE_SECURE: 'false',
        GEOIP: 'off',
        ...sharedEnv(),
        MAX_SESSIONS_PER_USER: '5',
        SESSION_LIMIT_POLICY: policy,
        // 20 logins of one account in a moment: a brute-force pattern the default limit stops.
        // (With SESSION_STORE=sql the rate-limit counters are each instance's own, in memory.)
        RATE_LIMIT_LOGIN_PER_ACCOUNT: '100',
      };
      // One after the other: both would run the migrations at once otherwise.
      const a = await startService(env, ports[0]);
      try {
        return [a, await startService(env, ports[1])] as const;
      } catch (error) {
        await a.stop();
        throw error;
      }
    }

    describe.each(['evict-oldest', 'reject'] as const)('per-user limit %s', (policy) => {
      let a: ServiceProcess;
      let b: ServiceProcess;

      beforeAll(async () => {
        [a, b] = await startPair(policy, shared.ports[policy]);
      }, 60_000);

      afterAll(async () => {
        await Promise.all([a?.stop(), b?.stop()]);
      });

      it('accepts on B what A issued, and once B revokes it A refuses the very next request', async () => {
        const email = uniqueEmail();
        const laptop = new HttpClient();
        expect((await laptop.register(a, email)).status).toBe(201);
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

      it('rotates a refresh credential presented to A and B at once exactly once', async () => {
        const email = uniqueEmail();
        expect((await new HttpClient().register(a, email)).status).toBe(201);
        const clients: HttpClient[] = [];
        for (let i = 0; i < 5; i++) {
          const client = new HttpClient();
          expect((await client.login(i % 2 === 0 ? a : b, email)).status).toBe(200);
          clients.push(client);
        }
        // Each credential sent to both instances at once (a browser's two tabs), all in parallel.
        const twins = clients.map((client) => client.copy());
        const answers = await Promise.all(
          clients.map((client, i) => Promise.all([client.refresh(a), twins[i].refresh(b)])),
        );
        const rotates = (answer: Answer) =>
          answer.headers.getSetCookie().some((cookie) => cookie.startsWith('fpa_refresh='));
        const winners: HttpClient[] = [];
        for (const [i, pair] of answers.entries()) {
          // One rotates; the other, within the grace period, gets a token and no new cookie.
          expect(pair.map((answer) => answer.status)).toEqual([200, 200]);
          expect(pair.map(rotates).sort()).toEqual([false, true]);
          // The credential the winner holds now works on either instance, once.
          const winner = rotates(pair[0]) ? clients[i] : twins[i];
          winners.push(winner);
          expect((await winner.refresh(i % 2 === 0 ? b : a)).status).toBe(200);
          expect((await winner.request(a, 'GET', '/auth/me')).status).toBe(200);
        }
        const listed = await winners[0].request(b, 'GET', '/sessions');
        expect((listed.body.sessions as { id: string }[]).map((s) => s.id).sort()).toEqual(
          clients.map((client) => client.sessionId).sort(),
        );
      });

      it('sees an account deleted on A at once on B: no token, refresh or login of it works', async () => {
        const email = uniqueEmail();
        const laptop = new HttpClient();
        expect((await laptop.register(a, email)).status).toBe(201);
        expect((await laptop.login(a, email)).status).toBe(200);
        const phone = new HttpClient();
        expect((await phone.login(b, email)).status).toBe(200);
        // What the laptop held before the deletion cleared its cookies.
        const kept = laptop.copy();

        const deleted = await laptop.request(a, 'DELETE', '/account', { password: PASSWORD });
        expect(deleted.status).toBe(204);

        for (const client of [kept, phone]) {
          expect((await client.request(b, 'GET', '/sessions')).status).toBe(401);
          expect((await client.request(b, 'GET', '/auth/me')).status).toBe(401);
          expect((await client.refresh(b)).status).toBe(401);
        }
        expect((await new HttpClient().login(b, email)).status).toBe(401);
        expect((await new HttpClient().register(b, email)).status).toBe(201);
      });

      it('holds the per-user limit exactly under 20 parallel logins split across A and B', async () => {
        const email = uniqueEmail();
        expect((await new HttpClient().register(a, email)).status).toBe(201);
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
