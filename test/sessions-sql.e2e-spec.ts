import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SessionCleanupJob } from '../src/sessions/session-cleanup.job';
import { RELAXED_RATE_LIMITS, startApp, TEST_SECRET, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';
import {
  Answer,
  HttpClient,
  loggedInHttpClient,
  PASSWORD,
  signedInHttpClient,
} from './support/http-client';
import { findSample } from './support/metrics';
import { databaseUrl, serverAddress, ThrowawayDatabases } from './support/postgres';
import { ServiceProcess, startService } from './support/process';
import { describeWithPostgres } from './support/services';
import { TcpProxy } from './support/tcp-proxy';
import { temporaryDirectory } from './support/temp-dir';

/**
 * SESSION_STORE=sql with the service as a real process: on SQLite, sessions outlive a SIGKILL
 * with no snapshot; on PostgreSQL behind a proxy the test can cut or silence, an outage in the
 * middle of traffic answers 503 and lets nothing through, and the service recovers by itself.
 * Ports 7920-7922.
 */
const SQLITE_PORT = 7920;
const POSTGRES_SERVICE_PORT = 7921;
const POSTGRES_PROXY_PORT = 7922;

const uniqueEmail = () => `sql-${Math.random().toString(36).slice(2)}@example.com`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const serviceEnv = (extra: Record<string, string>): Record<string, string> => ({
  NODE_ENV: 'test',
  JWT_SECRET: TEST_SECRET,
  COOKIE_SECURE: 'false',
  GEOIP: 'off',
  SESSION_STORE: 'sql',
  ...RELAXED_RATE_LIMITS,
  ...extra,
});

const sessionIds = (answer: Answer) =>
  (answer.body.sessions as Array<{ id: string }>).map((session) => session.id).sort();

/** Readiness of the SQL store with the database answering: up, no count of stored sessions. */
const SQL_STORE_UP = {
  status: 'up',
  live: null,
  expired: 0,
  capacity: null,
  estimatedBytes: null,
};

describe('sessions in SQLite (e2e, real process)', () => {
  const dir = temporaryDirectory('fpa-sql-sessions-e2e-');

  it('keeps every session through a SIGKILL with no snapshot: tokens, cookies, refresh and revocations', async () => {
    // SESSION_SNAPSHOT_PATH is left at its default (<DATA_DIR>/sessions.snapshot): the SQL store
    // must not write one, so whatever survives below came from the database.
    const env = serviceEnv({ DATA_DIR: dir(), DATABASE_URL: `sqlite:${join(dir(), 'fpa.db')}` });
    const snapshot = join(dir(), 'sessions.snapshot');
    const email = uniqueEmail();

    const first = await startService(env, SQLITE_PORT);
    const laptop = await signedInHttpClient(first, email);
    const phone = await loggedInHttpClient(first, email);
    const revoked = await loggedInHttpClient(first, email);
    expect((await laptop.request(first, 'DELETE', `/sessions/${revoked.sessionId}`)).status).toBe(
      204,
    );
    // A rotation answered just before the crash: the new credential is the one that counts.
    const rotatedFrom = phone.cookies.get('fpa_refresh');
    expect((await phone.refresh(first)).status).toBe(200);
    expect(phone.cookies.get('fpa_refresh')).not.toBe(rotatedFrom);
    expect(await first.stop('SIGKILL')).toBeNull(); // killed: no exit code, no shutdown hook
    expect(existsSync(snapshot)).toBe(false);

    const second = await startService(env, SQLITE_PORT);
    try {
      for (const client of [laptop, phone]) {
        const me = await client.request(second, 'GET', '/auth/me');
        expect(me).toMatchObject({ status: 200, body: { email, sessionId: client.sessionId } });
      }
      expect((await revoked.request(second, 'GET', '/auth/me')).status).toBe(401);
      expect(sessionIds(await laptop.request(second, 'GET', '/sessions'))).toEqual(
        [laptop.sessionId, phone.sessionId].sort(),
      );

      const before = phone.cookies.get('fpa_refresh');
      const refreshed = await phone.refresh(second);
      expect(refreshed).toMatchObject({ status: 200, body: { sessionId: phone.sessionId } });
      expect(phone.cookies.get('fpa_refresh')).not.toBe(before);
      expect((await phone.request(second, 'GET', '/auth/me')).status).toBe(200);
      expect((await revoked.refresh(second)).status).toBe(401);

      const health = await new HttpClient().request(second, 'GET', '/health/ready');
      expect(health.status).toBe(200);
      expect(health.body.details).toMatchObject({
        sessionStore: SQL_STORE_UP,
        userDatabase: { status: 'up' },
      });
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0);
    }
    // Not at shutdown either: only the in-memory store writes snapshots.
    expect(readdirSync(dir()).filter((name) => name.includes('snapshot'))).toEqual([]);
  });
});

// In-process, for its clock: sessions expire without waiting. One app at a time in this file
// (Passport keeps one 'jwt' strategy per process); the processes above and below are their own.
describe('SQL session store gauges (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ SESSION_STORE: 'sql' });
  });

  afterAll(async () => {
    await target?.close();
  });

  const figures = async () => {
    const text = (await target.inject({ method: 'GET', url: '/metrics' })).body;
    const ready = (await target.inject({ method: 'GET', url: '/health/ready' })).json<{
      details: { sessionStore: Record<string, unknown> };
    }>().details.sessionStore;
    return {
      metrics: {
        live: findSample(text, 'fpa_sessions_live'),
        expired: findSample(text, 'fpa_sessions_expired_unswept'),
        capacity: findSample(text, 'fpa_sessions_capacity'),
        estimatedBytes: findSample(text, 'fpa_sessions_estimated_bytes'),
        up: findSample(text, 'fpa_session_store_up'),
      },
      ready,
    };
  };

  it('counts expired sessions until the sweep, leaves the figures SQL cannot count out, and says it is up', async () => {
    const email = uniqueEmail();
    await signedInClient(target, email, PASSWORD);
    await new TestClient(target).login(email, PASSWORD);
    await new TestClient(target).login(email, PASSWORD);

    // Counting live rows would scan the table: no sample rather than a made-up 0.
    expect(await figures()).toEqual({
      metrics: {
        live: undefined,
        expired: 0,
        capacity: undefined,
        estimatedBytes: undefined,
        up: 1,
      },
      ready: SQL_STORE_UP,
    });

    // Past the idle timeout, before any sweep: three rows wait for the cleanup job.
    target.clock.advance(31 * 60_000);
    expect(await figures()).toEqual({
      metrics: {
        live: undefined,
        expired: 3,
        capacity: undefined,
        estimatedBytes: undefined,
        up: 1,
      },
      ready: { ...SQL_STORE_UP, expired: 3 },
    });

    expect(await target.app.get(SessionCleanupJob, { strict: false }).run()).toBe(3);
    const swept = await figures();
    expect(swept.metrics.expired).toBe(0);
    expect(swept.ready).toEqual(SQL_STORE_UP);
  });
});

/** Database reachable; cut (connections reset); back; silent (a paused server); restored. */
type Phase = 'up' | 'cut' | 'back' | 'silent' | 'restored';

interface Observed {
  client: string;
  path: string;
  /** The phase when the request was sent, and when its answer came. */
  sent: Phase;
  answered: Phase;
  answer: Answer;
}

/** Most requests each client sends, and how long any phase below may take. */
const MAX_REQUESTS_PER_CLIENT = 1500;
const PHASE_DEADLINE_MS = 30_000;

/**
 * Clients sending guarded requests one after another (GET /auth/me, GET /sessions, in turn), each
 * answer recorded with the phase it was sent and answered in. Bounded: each client stops after
 * MAX_REQUESTS_PER_CLIENT requests or at `stop()`.
 */
class Traffic {
  phase: Phase = 'up';
  readonly seen: Observed[] = [];
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly service: ServiceProcess) {}

  add(name: string, client: HttpClient): void {
    this.loops.push(
      (async () => {
        for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && !this.stopped; i++) {
          const path = i % 2 === 0 ? '/auth/me' : '/sessions';
          const sent = this.phase;
          const answer = await client.request(this.service, 'GET', path);
          this.seen.push({ client: name, path, sent, answered: this.phase, answer });
          await sleep(20);
        }
      })(),
    );
  }

  /** Answers sent and answered in `phase`, by `client`. */
  within(phase: Phase, client: string): Observed[] {
    return this.seen.filter((o) => o.client === client && o.sent === phase && o.answered === phase);
  }

  /** Waits (bounded) until `done` holds. */
  async until(what: string, done: () => boolean): Promise<void> {
    const deadline = Date.now() + PHASE_DEADLINE_MS;
    while (!done()) {
      if (Date.now() > deadline || this.stopped) throw new Error(`traffic: ${what} did not happen`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

/** A 503 that says to retry, in the service's error shape, setting no cookie. */
function expectUnavailable(observed: Pick<Observed, 'client' | 'path' | 'answer'>): void {
  const { client, path, answer } = observed;
  expect({ client, path, status: answer.status }).toEqual({ client, path, status: 503 });
  expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(answer.body).toEqual({
    statusCode: 503,
    error: 'Service Unavailable',
    message: 'The sessions store is unavailable',
    code: 'STORE_UNAVAILABLE',
  });
  expect(answer.headers.getSetCookie()).toEqual([]);
}

describeWithPostgres(
  'sessions in PostgreSQL through an outage (e2e, real process)',
  (serverUrl) => {
    const databases = new ThrowawayDatabases(serverUrl, 'fpa_sql_sessions');
    let proxy: TcpProxy;
    let service: ServiceProcess;

    beforeAll(async () => {
      const { name } = await databases.create();
      proxy = await TcpProxy.start(serverAddress(serverUrl), POSTGRES_PROXY_PORT);
      service = await startService(
        serviceEnv({
          DATABASE_URL: databaseUrl(serverUrl, name, { host: '127.0.0.1', port: proxy.port }),
        }),
        POSTGRES_SERVICE_PORT,
      );
    });

    afterAll(async () => {
      await service?.stop();
      await proxy?.close();
      await databases.dropAll();
    });

    const ready = () => new HttpClient().request(service, 'GET', '/health/ready');
    const storeUp = async () =>
      findSample(
        (await new HttpClient().request(service, 'GET', '/metrics')).text,
        'fpa_session_store_up',
      );

    it('answers every guarded request 503 while the database is cut or silent, lets no revoked session in, and recovers without a restart', async () => {
      const email = uniqueEmail();
      const clients: Record<string, HttpClient> = {
        laptop: await signedInHttpClient(service, email),
        phone: await loggedInHttpClient(service, email),
        tablet: await loggedInHttpClient(service, email),
      };
      const revoked = await loggedInHttpClient(service, email);
      expect((await ready()).body.details).toMatchObject({ sessionStore: SQL_STORE_UP });
      expect(await storeUp()).toBe(1);

      const traffic = new Traffic(service);
      /** The last three answers of every live client sent and answered in `phase` were 200. */
      const servedAgain = (phase: Phase) =>
        Object.keys(clients).every(
          (name) =>
            traffic
              .within(phase, name)
              .slice(-3)
              .filter((o) => o.answer.status === 200).length === 3,
        );
      try {
        for (const [name, client] of Object.entries(clients)) traffic.add(name, client);
        await traffic.until('answers before the outage', () =>
          Object.keys(clients).every((name) => traffic.within('up', name).length >= 4),
        );
        // Revoked just before the outage; it keeps sending its token and cookie throughout.
        expect(
          (await clients.laptop.request(service, 'DELETE', `/sessions/${revoked.sessionId}`))
            .status,
        ).toBe(204);
        traffic.add('revoked', revoked);
        await traffic.until('the revoked session refused', () =>
          traffic.within('up', 'revoked').some((o) => o.answer.status === 401),
        );

        // Cut: connections reset, new ones refused.
        await proxy.cut();
        traffic.phase = 'cut';
        await traffic.until('answers while the database is cut', () =>
          [...Object.keys(clients), 'revoked'].every(
            (name) => traffic.within('cut', name).length >= 3,
          ),
        );
        const cutReady = await ready();
        expect(cutReady.status).toBe(503);
        expect(cutReady.body.error).toMatchObject({
          sessionStore: { status: 'down', message: 'session store did not answer' },
          userDatabase: { status: 'down' },
        });
        expect(cutReady.text).not.toMatch(/postgres|127\.0\.0\.1|ECONN|terminated/i);
        expect(await storeUp()).toBe(0);
        const login = await new HttpClient().login(service, email);
        expect(login).toMatchObject({ status: 503, body: { code: 'STORE_UNAVAILABLE' } });

        // Back: the pool reconnects by itself, and holds open connections again.
        await proxy.restore();
        traffic.phase = 'back';
        await traffic.until('every client served after the cut', () => servedAgain('back'));

        // Silent: connections stay open and new ones are accepted, but nothing is delivered, like
        // a paused server. Queries sent on the pool's open connections are swallowed (`dropped`).
        const dropped = proxy.nextDrop().then(() => true);
        let swallowed = false;
        void dropped.then((value) => (swallowed = value));
        proxy.silence();
        traffic.phase = 'silent';
        await traffic.until('answers while the database is silent', () =>
          [...Object.keys(clients), 'revoked'].every(
            (name) => traffic.within('silent', name).length >= 2,
          ),
        );
        await traffic.until('a query swallowed by the silent database', () => swallowed);
        // A login and a refresh meanwhile: 503, and (checked after the outage) the refresh
        // credential they did not rotate is still the one that works.
        const [silentLogin, silentRefresh] = await Promise.all([
          new HttpClient().login(service, email),
          clients.tablet.copy().refresh(service),
        ]);
        for (const answer of [silentLogin, silentRefresh]) {
          expect(answer).toMatchObject({ status: 503, body: { code: 'STORE_UNAVAILABLE' } });
          expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
          expect(answer.headers.getSetCookie()).toEqual([]);
        }
        const silentReady = await ready();
        expect(silentReady.status).toBe(503);
        expect(silentReady.body.error).toMatchObject({
          sessionStore: { status: 'down', message: 'session store did not answer' },
          userDatabase: { status: 'down' },
        });
        expect(await storeUp()).toBe(0);

        await proxy.restore();
        traffic.phase = 'restored';
        await traffic.until('every client served after the silence', () => servedAgain('restored'));
      } finally {
        await traffic.stop();
      }

      // Never a 500, never a 200 for the revoked session, whatever the phase.
      for (const { client, path, answer } of traffic.seen) {
        const allowed = client === 'revoked' ? [401, 503] : [200, 503];
        expect({ client, path, status: allowed.includes(answer.status) }).toEqual({
          client,
          path,
          status: true,
        });
      }
      // Asked and answered while the database was down: a 503 each time.
      for (const phase of ['cut', 'silent'] as const) {
        for (const name of [...Object.keys(clients), 'revoked']) {
          for (const observed of traffic.within(phase, name)) expectUnavailable(observed);
        }
      }
      // While the database answered, the live sessions were served and the revoked one refused.
      for (const phase of ['up', 'back', 'restored'] as const) {
        for (const name of Object.keys(clients)) {
          expect(traffic.within(phase, name).every((o) => o.answer.status === 200)).toBe(true);
        }
        expect(traffic.within(phase, 'revoked').every((o) => o.answer.status === 401)).toBe(true);
      }

      // Back, in the same process: every session as it was, refresh and login work.
      for (const [name, client] of Object.entries(clients)) {
        const me = await client.request(service, 'GET', '/auth/me');
        expect({ name, status: me.status }).toEqual({ name, status: 200 });
      }
      expect((await revoked.request(service, 'GET', '/auth/me')).status).toBe(401);
      expect((await revoked.refresh(service)).status).toBe(401);
      expect(sessionIds(await clients.phone.request(service, 'GET', '/sessions'))).toEqual(
        Object.values(clients)
          .map((client) => client.sessionId)
          .sort(),
      );
      expect((await clients.tablet.refresh(service)).status).toBe(200);
      expect((await clients.tablet.request(service, 'GET', '/auth/me')).status).toBe(200);
      expect((await new HttpClient().login(service, email)).status).toBe(200);
      const back = await ready();
      expect(back.status).toBe(200);
      expect(back.body.details).toMatchObject({ sessionStore: SQL_STORE_UP });
      expect(await storeUp()).toBe(1);
    });
  },
);
