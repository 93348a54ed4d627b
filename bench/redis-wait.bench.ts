import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LightMyRequestResponse } from 'fastify';
import { SystemClock } from '../src/common/clock';
import { validateEnv } from '../src/config';
import { createApp } from '../src/http/bootstrap';
import { StoreUnavailableError } from '../src/common/errors';
import { createRedisClient, RedisClient, waitUntilReady } from '../src/redis/redis-client';
import { SessionPolicy } from '../src/sessions/session';
import { RedisSessionRepository } from '../src/sessions/stores/redis/redis-session.repository';
import { RedisClusterServers, startRedisCluster } from '../test/support/redis-servers';
import { BenchContext, USER_AGENT } from './lib/context';
import { PASSWORD } from './lib/http-client';
import { table } from './lib/markdown';
import { SessionFixtures } from './lib/session-fixtures';
import { formatNumber, median, percentile, sortedCopy } from './lib/stats';

/** The cluster of this part: 3 masters and 3 replicas on loopback, bus ports 10,000 above. */
const CLUSTER_PORTS = [8240, 8241, 8242, 8243, 8244, 8245];
const BUS_PORT_OFFSET = 10_000;
const IN_FLIGHT = 32;
/** Logins at once: argon2 takes a hashing thread each, and there are few. */
const LOGINS_IN_FLIGHT = 4;
const WAIT_TIMEOUT_MS = 100;
const POLICY: SessionPolicy = {
  idleTtl: 1800,
  absoluteTtl: 28800,
  maxPerUser: 1000,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

/** Latency of one operation at a time, and throughput with several at once. */
interface Figures {
  readonly medianUs: number;
  readonly p99Us: number;
  readonly perSec: number;
  /** Answered 503: too few replicas acknowledged within the timeout (not timed). */
  readonly refused: number;
}

/** `done` is timed; `refused` (a 503) is counted; `skipped` (nothing left to do) is neither. */
type Outcome = 'done' | 'refused' | 'skipped';

const refusedIfUnavailable = (error: unknown): 'refused' => {
  if (error instanceof StoreUnavailableError) return 'refused';
  throw error;
};

interface Row {
  readonly what: string;
  readonly without: Figures;
  readonly with: Figures;
}

export interface RedisWaitResult {
  readonly rows: Row[];
  readonly markdown: string;
}

/**
 * Part `wait`: what REDIS_WAIT_REPLICAS=1 costs against 0, on a local Redis Cluster of three
 * masters with a replica each (started here, on loopback). In this process: the session store's
 * writes that wait (create, rotate, revoke), then logins and refreshes through the whole service
 * (Fastify's inject: no socket, the same handlers, argon2 on the hashing threads).
 */
export async function redisWait(context: BenchContext): Promise<RedisWaitResult> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    const markdown = `${HEADING}\n\nNot measured: redis-server is not on the PATH.`;
    return { rows: [], markdown };
  }
  const quick = context.mode === 'quick';
  const operations = quick ? 300 : 3000;
  const logins = quick ? 20 : 100;
  const refreshes = quick ? 200 : 2000;

  // Both settings once per round, in turn, so a machine that gets busier hurts neither alone.
  const rounds = Math.min(context.settings.rounds, 3);

  context.log(`part wait: starting a Redis Cluster on ${CLUSTER_PORTS.join(', ')}`);
  const cluster = await startRedisCluster(CLUSTER_PORTS, BUS_PORT_OFFSET, { replicas: 1 });
  const measured: Record<number, Record<string, Figures>[]> = { 0: [], 1: [] };
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const replicas of [0, 1]) {
        context.log(`part wait: round ${round}/${rounds}, REDIS_WAIT_REPLICAS=${replicas}`);
        const store = await measureStore(cluster, replicas, operations);
        const service = await measureService(context, cluster, replicas, logins, refreshes);
        measured[replicas].push({
          ...prefixed('store', store),
          ...prefixed('service', service),
        });
      }
    }
  } finally {
    await cluster.stop();
  }
  const rows = Object.keys(measured[0][0]).map((what) => ({
    what,
    without: medianOf(measured[0].map((round) => round[what])),
    with: medianOf(measured[1].map((round) => round[what])),
  }));
  return { rows, markdown: render(rows, rounds, operations, logins, refreshes) };
}

const prefixed = (prefix: string, figures: Record<string, Figures>): Record<string, Figures> =>
  Object.fromEntries(Object.entries(figures).map(([what, value]) => [`${prefix}: ${what}`, value]));

/** Each figure's median over the rounds. */
const medianOf = (rounds: readonly Figures[]): Figures => ({
  medianUs: median(rounds.map((round) => round.medianUs)),
  p99Us: median(rounds.map((round) => round.p99Us)),
  perSec: median(rounds.map((round) => round.perSec)),
  refused: rounds.reduce((sum, round) => sum + round.refused, 0),
});

/** Times `run(i)` for i in 0..count, one at a time, then `inFlight` at a time. */
async function figures(
  count: number,
  run: (i: number) => Promise<Outcome>,
  inFlight = IN_FLIGHT,
): Promise<Figures> {
  const latencies: number[] = [];
  let refused = 0;
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    const outcome = await run(i);
    if (outcome === 'done') latencies.push(Number(process.hrtime.bigint() - started) / 1000);
    if (outcome === 'refused') refused += 1;
  }
  let next = count;
  let done = 0;
  const end = 2 * count;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < end) {
        const outcome = await run(next++);
        if (outcome === 'done') done += 1;
        if (outcome === 'refused') refused += 1;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = sortedCopy(latencies);
  return {
    medianUs: median(latencies),
    p99Us: percentile(sorted, 99),
    perSec: done / seconds,
    refused,
  };
}

async function measureStore(
  cluster: RedisClusterServers,
  replicas: number,
  count: number,
): Promise<Record<string, Figures>> {
  const client: RedisClient = createRedisClient(cluster.url);
  client.on('error', () => undefined);
  try {
    if (!(await waitUntilReady(client, 10_000))) throw new Error('the cluster did not answer');
    const store = new RedisSessionRepository(
      client,
      POLICY,
      new SystemClock(),
      `fpa-bench-wait-${randomBytes(4).toString('hex')}:`,
      { replicas, timeoutMs: WAIT_TIMEOUT_MS },
    );
    const fixtures = new SessionFixtures(10);
    const sessions = Array.from({ length: 2 * count }, () => fixtures.next());
    // A refused login leaves no session: nothing to rotate or revoke for it.
    const stored = sessions.map(() => false);
    const create = await figures(count, (i) =>
      store.create(sessions[i]).then((): Outcome => {
        stored[i] = true;
        return 'done';
      }, refusedIfUnavailable),
    );
    const refreshHashes = sessions.map((session) => session.refreshHash);
    const rotate = await figures(count, async (i) => {
      if (!stored[i]) return 'skipped';
      const next = randomBytes(32).toString('base64url');
      const outcome = await store
        .rotateRefresh(sessions[i].id, {
          presentedHash: refreshHashes[i],
          nextRefreshHash: next,
          nextFingerprintHash: next,
          ipAddress: sessions[i].ipAddress,
          userAgent: sessions[i].userAgent,
        })
        .catch(refusedIfUnavailable);
      // A refused rotation is taken back: the credential held stays the one to present.
      if (outcome === 'refused') return outcome;
      if (outcome.kind !== 'rotated') throw new Error(`rotation answered ${outcome.kind}`);
      refreshHashes[i] = next;
      return 'done';
    });
    const revoke = await figures(count, async (i) => {
      if (!stored[i]) return 'skipped';
      const revoked = await store
        .revoke(sessions[i].id, sessions[i].userId)
        .catch(refusedIfUnavailable);
      if (revoked === 'refused') return revoked;
      if (revoked === null) throw new Error('the session to revoke was not there');
      return 'done';
    });
    return { 'create (login)': create, 'rotate (refresh)': rotate, revoke };
  } finally {
    client.disconnect();
  }
}

/** The cookies a response sets, name=value, joined as a Cookie header. */
const cookiesOf = (response: LightMyRequestResponse): Map<string, string> =>
  new Map(
    response.cookies
      .filter((cookie) => cookie.value !== '')
      .map((cookie) => [cookie.name, cookie.value]),
  );

async function measureService(
  context: BenchContext,
  cluster: RedisClusterServers,
  replicas: number,
  logins: number,
  refreshes: number,
): Promise<Record<string, Figures>> {
  const config = validateEnv({
    NODE_ENV: 'production',
    JWT_SECRET: context.secret,
    DATABASE_URL: 'sqlite::memory:',
    SESSION_STORE: 'redis',
    REDIS_URL: cluster.url,
    REDIS_KEY_PREFIX: `fpa-bench-wait-${randomBytes(4).toString('hex')}:`,
    REDIS_WAIT_REPLICAS: String(replicas),
    REDIS_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
    GEOIP: 'off',
    SESSION_SNAPSHOT_PATH: 'off',
    CLEANUP_CRON: '0 0 0 1 1 *',
    MAX_SESSIONS_PER_USER: '1000',
    RATE_LIMIT_LOGIN_PER_IP: '1000000',
    RATE_LIMIT_LOGIN_PER_ACCOUNT: '1000000',
    RATE_LIMIT_REFRESH_PER_IP: '1000000',
    RATE_LIMIT_REFRESH_PER_SESSION: '1000000',
  });
  const app: NestFastifyApplication = await createApp(config, { logger: false });
  await app.init();
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();
  try {
    const email = `bench-wait-${randomBytes(4).toString('hex')}@example.com`;
    const registered = await fastify.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { 'user-agent': USER_AGENT },
      payload: { email, password: PASSWORD },
    });
    if (registered.statusCode !== 201) throw new Error(`register: ${registered.statusCode}`);
    const login = async () => {
      const response = await fastify.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'user-agent': USER_AGENT },
        payload: { email, password: PASSWORD },
      });
      if (response.statusCode === 503) return null;
      if (response.statusCode !== 200) throw new Error(`login: ${response.statusCode}`);
      return cookiesOf(response);
    };
    const loginFigures = await figures(
      logins,
      async () => ((await login()) === null ? 'refused' : 'done'),
      LOGINS_IN_FLIGHT,
    );
    // Each refresh chain is one client's: a session refreshed with the cookie it got last.
    const chains: Map<string, string>[] = [];
    for (let attempt = 0; chains.length < 2 * IN_FLIGHT; attempt++) {
      if (attempt > 10 * IN_FLIGHT) throw new Error('logins keep answering 503');
      const cookies = await login();
      if (cookies !== null) chains.push(cookies);
    }
    const busy = new Set<number>();
    const refreshFigures = await figures(refreshes, async (i) => {
      // One refresh per session at a time, as one browser would.
      let chain = i % chains.length;
      while (busy.has(chain)) chain = (chain + 1) % chains.length;
      busy.add(chain);
      try {
        const cookie = [...chains[chain]].map(([name, value]) => `${name}=${value}`).join('; ');
        const response = await fastify.inject({
          method: 'POST',
          url: '/auth/refresh',
          headers: { 'user-agent': USER_AGENT, cookie },
        });
        // Refused: the rotation was taken back, the cookies held stay good.
        if (response.statusCode === 503) return 'refused';
        if (response.statusCode !== 200) throw new Error(`refresh: ${response.statusCode}`);
        chains[chain] = new Map([...chains[chain], ...cookiesOf(response)]);
        return 'done';
      } finally {
        busy.delete(chain);
      }
    });
    return { login: loginFigures, refresh: refreshFigures };
  } finally {
    await app.close();
  }
}

const HEADING = '## Waiting for a Redis replica (REDIS_WAIT_REPLICAS)';

function render(
  rows: Row[],
  rounds: number,
  operations: number,
  logins: number,
  refreshes: number,
): string {
  const cell = (figures: Figures) =>
    `${formatNumber(figures.medianUs / 1000)} / ${formatNumber(figures.p99Us / 1000)} ms, ${formatNumber(figures.perSec)}/s`;
  return [
    HEADING,
    '',
    `A local Redis Cluster (three masters, a replica each, loopback), \`REDIS_WAIT_REPLICAS=0\` against \`1\` ` +
      `(\`REDIS_WAIT_TIMEOUT_MS=${WAIT_TIMEOUT_MS}\`). The store: ${operations} creates, rotations and revocations ` +
      `on \`RedisSessionRepository\`; the service: ${logins} logins and ${refreshes} refreshes through Fastify's ` +
      `inject (the whole app in this process, argon2 on its hashing threads). Each cell: median / p99 latency one ` +
      `at a time, then throughput with ${IN_FLIGHT} at once (logins: ${LOGINS_IN_FLIGHT}); the median of ${rounds} ` +
      `round(s), taken in turn. A loopback replica acknowledges within a round trip; ` +
      'across a network, add that round trip to every login, refresh and revocation.',
    '',
    table(
      [
        'operation',
        'WAIT 0: median / p99, throughput',
        'WAIT 1: median / p99, throughput',
        'median cost',
        'answered 503 (WAIT 0 / 1)',
      ],
      rows.map((row) => [
        row.what,
        cell(row.without),
        cell(row.with),
        `${row.with.medianUs >= row.without.medianUs ? '+' : ''}${formatNumber((row.with.medianUs - row.without.medianUs) / 1000)} ms`,
        `${row.without.refused} / ${row.with.refused}`,
      ]),
    ),
  ].join('\n');
}
