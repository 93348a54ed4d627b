import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { userShard } from '../src/sessions/session-id';
import { TEST_SECRET } from './support/app';
import { Answer, HttpClient, loggedInHttpClient } from './support/http-client';
import { ServiceProcess, startService } from './support/process';
import {
  ClusterNode,
  clusterNodes,
  describeWithRedisServer,
  keySlot,
  RedisClusterServers,
  replicationInfo,
  startRedisCluster,
  waitForPromotion,
  waitForReplicaSync,
} from './support/redis-servers';

/*
 * A Redis Cluster of three masters with a replica each, the service (dist/main.js) on it, and
 * traffic from a few concurrent clients: logins, guarded requests, revocations. One master is
 * killed (SIGKILL) while the traffic runs; its replica takes over. What must hold: no 500, no 200
 * for a session revoked before, 503 while a session cannot be checked, everything working again
 * after the failover with no restart of the service, and sessions lost only as documented
 * (docs/scaling.md, "When a Redis master fails").
 */

const BUS_PORT_OFFSET = 10_000;
/** cluster-node-timeout: a master that stops answering is failed over within a few seconds. */
const NODE_TIMEOUT_MS = 1000;
const USERS = 12;
const WORKERS = 4;
/** Steps per worker at most, however long the phases take. */
const MAX_STEPS = 5000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T | undefined =>
  items[Math.floor(Math.random() * items.length)];

interface User {
  readonly email: string;
  /** The master that served the user's slot (all of the user's keys) before the kill. */
  readonly masterPort: number;
  /** A session of the user's that ends the others (`DELETE /sessions/:id`) and is never ended. */
  readonly admin: HttpClient;
}

/**
 * What the client may expect of a session: `live` (its login answered 200), `revoking` (a
 * revocation is on its way), `revoked` (one answered 204), `unknown` (one answered 503 or 404:
 * it may or may not have been applied).
 */
type State = 'live' | 'revoking' | 'revoked' | 'unknown';

interface Tracked {
  readonly user: User;
  readonly client: HttpClient;
  /** Never revoked (the user's admin session). */
  readonly kept: boolean;
  state: State;
  /** When the login's 200 arrived (performance.now()). */
  readonly loggedInAt: number;
  /** When the revocation's 204 arrived. */
  revokedAt: number | null;
  /** 401s while it counted as live: allowed only for a session that turns out to be lost. */
  refusedWhileLive: number;
  /** A 200 for a request sent after its revocation was answered 204. */
  acceptedAfterRevocation: boolean;
}

interface Exchange {
  readonly kind: 'login' | 'guarded' | 'revoke';
  readonly status: number;
  readonly sentAt: number;
  readonly answeredAt: number;
}

/** A 503 must be the documented one, nothing internal in it. */
function isUnavailable(answer: Answer): boolean {
  return (
    answer.status === 503 &&
    answer.body.code === 'STORE_UNAVAILABLE' &&
    /^\d+$/.test(answer.headers.get('retry-after') ?? '')
  );
}

/** Bounded concurrent traffic; every answer is checked against the session's state when sent. */
class Traffic {
  readonly sessions: Tracked[] = [];
  readonly records: Exchange[] = [];
  readonly violations: string[] = [];
  private running = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly service: ServiceProcess,
    private readonly users: readonly User[],
  ) {}

  start(): void {
    this.running = true;
    this.workers = Array.from({ length: WORKERS }, (_, worker) => this.work(worker));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  track(user: User, client: HttpClient, kept: boolean): Tracked {
    const session: Tracked = {
      user,
      client,
      kept,
      state: 'live',
      loggedInAt: performance.now(),
      revokedAt: null,
      refusedWhileLive: 0,
      acceptedAfterRevocation: false,
    };
    this.sessions.push(session);
    return session;
  }

  async login(user: User): Promise<void> {
    const client = new HttpClient();
    const answer = await this.timed('login', () => client.login(this.service, user.email));
    if (answer.status === 200) this.track(user, client, false);
    else if (!isUnavailable(answer)) this.violation(`login answered ${answer.status}`, answer);
  }

  async guarded(session: Tracked): Promise<void> {
    const sent = session.state;
    const answer = await this.timed('guarded', () =>
      session.client.request(this.service, 'GET', '/auth/me'),
    );
    if (answer.status === 200) {
      if (sent === 'revoked') session.acceptedAfterRevocation = true;
    } else if (answer.status === 401) {
      if (sent === 'live') session.refusedWhileLive += 1;
    } else if (!isUnavailable(answer)) {
      this.violation(`guarded request (session ${sent}) answered ${answer.status}`, answer);
    }
  }

  async revoke(session: Tracked): Promise<Answer> {
    session.state = 'revoking';
    const answer = await this.timed('revoke', () =>
      session.user.admin.request(this.service, 'DELETE', `/sessions/${session.client.sessionId}`),
    );
    if (answer.status === 204) {
      session.state = 'revoked';
      session.revokedAt = performance.now();
    } else {
      // A 404 too: a revocation whose reply was lost may have been sent again by the client
      // library and found nothing the second time.
      session.state = 'unknown';
      if (answer.status !== 404 && !isUnavailable(answer)) {
        this.violation(`revocation answered ${answer.status}`, answer);
      }
    }
    return answer;
  }

  private async work(worker: number): Promise<void> {
    for (let step = 0; this.running && step < MAX_STEPS; step++) {
      const action = (step + worker) % 6;
      if (action === 0) {
        await this.login(pick(this.users) as User);
      } else if (action === 1) {
        const live = this.sessions.filter((session) => session.state === 'live' && !session.kept);
        const target = pick(live);
        if (target) await this.revoke(target);
      } else {
        // Mostly sessions that should be let in; the rest are revoked or in doubt.
        const live = this.sessions.filter((session) => session.state === 'live');
        await this.guarded((action === 5 ? pick(this.sessions) : pick(live)) as Tracked);
      }
    }
  }

  private async timed(kind: Exchange['kind'], send: () => Promise<Answer>): Promise<Answer> {
    const sentAt = performance.now();
    const answer = await send();
    this.records.push({ kind, status: answer.status, sentAt, answeredAt: performance.now() });
    return answer;
  }

  private violation(what: string, answer: Answer): void {
    this.violations.push(`${what}: ${answer.text.slice(0, 200)}`);
  }
}

/** The master serving `slot`, as the node on `port` sees the cluster. */
async function masterOf(port: number, slot: number): Promise<ClusterNode> {
  const owner = (await clusterNodes(port)).find(
    (node) => node.role === 'master' && node.slots.some(([from, to]) => slot >= from && slot <= to),
  );
  if (!owner) throw new Error(`no master serves slot ${slot}`);
  return owner;
}

/** Waits (bounded) until the replica on `replicaPort` has everything its master had so far. */
async function waitForCatchUp(masterPort: number, replicaPort: number): Promise<void> {
  const offset = Number((await replicationInfo(masterPort)).master_repl_offset);
  for (let attempt = 0; attempt < 100; attempt++) {
    if (Number((await replicationInfo(replicaPort)).slave_repl_offset) >= offset) return;
    await sleep(50);
  }
  throw new Error(`the replica on ${replicaPort} did not catch up with its master`);
}

/** What a test run saw, for the report line and the assertions. */
function summary(traffic: Traffic, lost: readonly Tracked[], from: number, to: number) {
  const count = (kind: Exchange['kind'], status: number) =>
    traffic.records.filter((record) => record.kind === kind && record.status === status).length;
  const duringFailover = traffic.records.filter(
    (record) => record.kind === 'guarded' && record.sentAt >= from && record.sentAt <= to,
  );
  return {
    logins: { ok: count('login', 200), unavailable: count('login', 503) },
    guarded: {
      ok: count('guarded', 200),
      refused: count('guarded', 401),
      unavailable: count('guarded', 503),
    },
    revocations: { ok: count('revoke', 204), unavailable: count('revoke', 503) },
    lost: lost.length,
    failoverMs: Math.round(to - from),
    slowestGuardedDuringFailoverMs: Math.round(
      Math.max(0, ...duringFailover.map((record) => record.answeredAt - record.sentAt)),
    ),
    slowestAnswerMs: Math.round(
      Math.max(...traffic.records.map((record) => record.answeredAt - record.sentAt)),
    ),
  };
}

describeWithRedisServer('Redis Cluster failover under traffic (e2e)', () => {
  async function setUp(ports: readonly number[], servicePort: number, waitReplicas: number) {
    const cluster = await startRedisCluster(ports, BUS_PORT_OFFSET, {
      replicas: 1,
      nodeTimeoutMs: NODE_TIMEOUT_MS,
    });
    try {
      const service = await startService(
        {
          NODE_ENV: 'test',
          JWT_SECRET: TEST_SECRET,
          COOKIE_SECURE: 'false',
          GEOIP: 'off',
          SESSION_STORE: 'redis',
          // Every node, as the docs say; the client discovers the rest anyway.
          REDIS_URL: cluster.url,
          REDIS_WAIT_REPLICAS: String(waitReplicas),
          // The most allowed: a loaded test machine must not make a healthy replica late.
          REDIS_WAIT_TIMEOUT_MS: '400',
          // Every login of a user stays until revoked: none is evicted and taken for lost.
          MAX_SESSIONS_PER_USER: '1000',
          // The traffic logs in from one address far more often than any limit allows.
          RATE_LIMIT_LOGIN_PER_IP: '1000000',
          RATE_LIMIT_LOGIN_PER_ACCOUNT: '1000000',
          RATE_LIMIT_REGISTER_PER_IP: '1000',
        },
        servicePort,
      );
      return { cluster, service };
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /**
   * Registers the users (noting which master serves each), logs each in three times (one
   * session kept to revoke the others), and revokes one session of each.
   */
  async function prepare(service: ServiceProcess, port: number) {
    const users: User[] = [];
    for (let i = 0; i < USERS; i++) {
      const email = `failover-${randomBytes(6).toString('hex')}@example.com`;
      const registered = await new HttpClient().register(service, email);
      expect(registered.status).toBe(201);
      const slot = await keySlot(port, `{${userShard(registered.body.id as string)}}`);
      const admin = await loggedInHttpClient(service, email);
      users.push({ email, masterPort: (await masterOf(port, slot)).port, admin });
    }
    const traffic = new Traffic(service, users);
    const revokedBefore: Tracked[] = [];
    for (const user of users) {
      traffic.track(user, user.admin, true);
      for (let i = 0; i < 2; i++) {
        traffic.track(user, await loggedInHttpClient(service, user.email), false);
      }
      const revoked = traffic.sessions[traffic.sessions.length - 1];
      expect((await traffic.revoke(revoked)).status).toBe(204);
      revokedBefore.push(revoked);
    }
    for (const session of traffic.sessions) {
      const me = await session.client.request(service, 'GET', '/auth/me');
      expect(me.status).toBe(session.state === 'revoked' ? 401 : 200);
    }
    return { users, traffic, revokedBefore };
  }

  /** The master serving most users, the one to kill, and its replica. */
  async function victim(users: readonly User[], port: number) {
    const nodes = await clusterNodes(port);
    const masters = nodes.filter((node) => node.role === 'master');
    const served = (master: ClusterNode) =>
      users.filter((user) => user.masterPort === master.port).length;
    const master = masters.reduce((best, node) => (served(node) > served(best) ? node : best));
    const replica = nodes.find((node) => node.masterId === master.id);
    if (!replica) throw new Error(`master ${master.port} has no replica`);
    const survivors = nodes.map((node) => node.port).filter((node) => node !== master.port);
    return { master, replica, survivors, users: users.filter((u) => u.masterPort === master.port) };
  }

  /**
   * After the failover, with no restart of the service: a login, a guarded request, a refresh
   * and a revocation work for a user whose master was killed.
   */
  async function expectWorking(service: ServiceProcess, user: User): Promise<void> {
    const client = new HttpClient();
    expect((await client.login(service, user.email)).status).toBe(200);
    expect((await client.request(service, 'GET', '/auth/me')).status).toBe(200);
    expect((await client.refresh(service)).status).toBe(200);
    expect((await client.request(service, 'GET', '/auth/me')).status).toBe(200);
    expect(
      (await user.admin.request(service, 'DELETE', `/sessions/${client.sessionId}`)).status,
    ).toBe(204);
    expect((await client.request(service, 'GET', '/auth/me')).status).toBe(401);
  }

  /**
   * Asks about every session once more, now that the cluster is whole: a revoked one is refused,
   * a live one accepted or lost (refused; then never accepted after a refusal before either).
   * Returns the lost ones and what did not hold.
   */
  async function finalCheck(service: ServiceProcess, traffic: Traffic) {
    const lost: Tracked[] = [];
    const problems: string[] = [];
    for (const session of traffic.sessions) {
      const { status } = await session.client.request(service, 'GET', '/auth/me');
      const what = `a ${session.state} session of ${session.user.email} answered ${status}`;
      if (session.state === 'revoked') {
        if (status !== 401) problems.push(what);
      } else if (status !== 200 && status !== 401) {
        problems.push(what);
      } else if (session.state === 'live' && status === 401) {
        lost.push(session);
      } else if (session.state === 'live' && session.refusedWhileLive > 0) {
        problems.push(`${what} after ${session.refusedWhileLive} refusal(s) during the traffic`);
      }
    }
    return { lost, problems };
  }

  /**
   * Stops the traffic and checks what every run must hold: no violation seen during it, the
   * service still up, every session answering as its state allows. Reports the tally.
   */
  async function stopAndTally(
    service: ServiceProcess,
    traffic: Traffic,
    killedAt: number,
    promotedAt: number,
    waitReplicas: number,
  ) {
    await traffic.stop();
    expect(traffic.violations).toEqual([]);
    expect(service.child.exitCode).toBeNull();
    const { lost, problems } = await finalCheck(service, traffic);
    expect(problems).toEqual([]);
    const report = summary(traffic, lost, killedAt, promotedAt);
    console.info(`Redis failover, REDIS_WAIT_REPLICAS=${waitReplicas}: ${JSON.stringify(report)}`);
    return { lost, report };
  }

  describe('REDIS_WAIT_REPLICAS=0 (the default)', () => {
    let cluster: RedisClusterServers;
    let service: ServiceProcess;

    beforeAll(async () => {
      ({ cluster, service } = await setUp([8200, 8201, 8202, 8203, 8204, 8205], 8206, 0));
    }, 60_000);

    afterAll(async () => {
      await service?.stop();
      await cluster?.stop();
    });

    it('fails over with 503s, never a 500 nor a revoked session let in; loses only what the replica had not received', async () => {
      const { users, traffic, revokedBefore } = await prepare(service, cluster.servers[0].port);
      const killed = await victim(users, cluster.servers[0].port);
      expect(killed.users.length).toBeGreaterThan(0);

      traffic.start();
      await sleep(1000);
      // Everything the killed master answered before this moment is on its replica: the bound on
      // what can be lost is what it answers after (the replica is never more than that behind).
      const checkpoint = performance.now();
      await waitForCatchUp(killed.master.port, killed.replica.port);
      const killedAt = performance.now();
      await cluster.servers.find((server) => server.port === killed.master.port)?.kill();
      await waitForPromotion(killed.replica.port, killed.survivors);
      const promotedAt = performance.now();
      await sleep(1500);
      const { lost, report } = await stopAndTally(service, traffic, killedAt, promotedAt, 0);

      // The kill was felt, and the service came back by itself.
      expect(report.guarded.unavailable).toBeGreaterThan(0);
      const loginsAfter = traffic.records.filter(
        (record) => record.kind === 'login' && record.status === 200 && record.sentAt > promotedAt,
      );
      expect(loginsAfter.length).toBeGreaterThan(0);
      // Lost: only sessions of the killed master, answered after its replica last caught up.
      for (const session of lost) {
        expect(session.user.masterPort).toBe(killed.master.port);
        expect(session.loggedInAt).toBeGreaterThanOrEqual(checkpoint);
      }
      // A revocation is undone only under the same bound; those made before the traffic never.
      for (const session of revokedBefore) expect(session.acceptedAfterRevocation).toBe(false);
      for (const session of traffic.sessions.filter((s) => s.acceptedAfterRevocation)) {
        expect(session.user.masterPort).toBe(killed.master.port);
        expect(session.revokedAt).toBeGreaterThanOrEqual(checkpoint);
      }
      await expectWorking(service, pick(killed.users) as User);
    }, 120_000);
  });

  describe('REDIS_WAIT_REPLICAS=1', () => {
    let cluster: RedisClusterServers;
    let service: ServiceProcess;

    beforeAll(async () => {
      ({ cluster, service } = await setUp([8210, 8211, 8212, 8213, 8214, 8215], 8216, 1));
    }, 60_000);

    afterAll(async () => {
      await service?.stop();
      await cluster?.stop();
    });

    it('loses no acknowledged login or revocation, refuses writes while a master has no replica, and takes back a refresh it refused', async () => {
      const { users, traffic } = await prepare(service, cluster.servers[0].port);
      const killed = await victim(users, cluster.servers[0].port);
      expect(killed.users.length).toBeGreaterThan(0);
      const user = killed.users[0];
      // Outside the traffic: refreshed and revoked while the promoted master has no replica.
      const refresher = await loggedInHttpClient(service, user.email);
      const unconfirmed = await loggedInHttpClient(service, user.email);

      traffic.start();
      await sleep(1000);
      // No wait for the replica here: every 200 and 204 so far has been acknowledged by it.
      const killedAt = performance.now();
      await cluster.servers.find((server) => server.port === killed.master.port)?.kill();
      await waitForPromotion(killed.replica.port, killed.survivors);
      const promotedAt = performance.now();

      // The promoted master has no replica: what must reach one is refused, reads go on.
      expect(isUnavailable(await new HttpClient().login(service, user.email))).toBe(true);
      const before = { token: refresher.accessToken, cookies: new Map(refresher.cookies) };
      expect(isUnavailable(await refresher.refresh(service))).toBe(true);
      expect(refresher.accessToken).toBe(before.token);
      expect(refresher.cookies).toEqual(before.cookies);
      expect((await refresher.request(service, 'GET', '/auth/me')).status).toBe(200);
      const revocation = await user.admin.request(
        service,
        'DELETE',
        `/sessions/${unconfirmed.sessionId}`,
      );
      expect(isUnavailable(revocation)).toBe(true);

      // The killed node comes back empty and becomes the new master's replica.
      await cluster.restart(killed.master.port);
      await waitForReplicaSync(killed.master.port);
      await sleep(1000);
      const { lost, report } = await stopAndTally(service, traffic, killedAt, promotedAt, 1);

      expect(report.guarded.unavailable).toBeGreaterThan(0);
      expect(lost).toEqual([]);
      expect(traffic.sessions.filter((session) => session.acceptedAfterRevocation)).toEqual([]);
      // The refused refresh was taken back: the credential and cookies the client kept still work.
      expect((await refresher.refresh(service)).status).toBe(200);
      expect((await refresher.request(service, 'GET', '/auth/me')).status).toBe(200);
      // The refused revocation was done on the master all the same.
      expect((await unconfirmed.request(service, 'GET', '/auth/me')).status).toBe(401);
      await expectWorking(service, user);
    }, 120_000);
  });
});
