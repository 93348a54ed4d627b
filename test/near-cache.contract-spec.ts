import { FakeClock } from '../src/common/clock';
import { openSqliteConnection, sqliteDatabase } from '../src/database/database';
import { CacheLookups, FingerprintAuthMetrics } from '../src/observability/metrics';
import { InvalidationChannel } from '../src/redis/invalidation-channel';
import {
  createRedisClient,
  RedisClient,
  redisNodes,
  waitUntilReady,
} from '../src/redis/redis-client';
import { SessionPolicy } from '../src/sessions/session';
import { NearCachedSessionRepository } from '../src/sessions/stores/redis/near-cache';
import { RedisSessionRepository } from '../src/sessions/stores/redis/redis-session.repository';
import { migrateToLatest } from '../src/users/database/migrations';
import { KyselyUserRepository } from '../src/users/kysely-user.repository';
import { PasswordHasher } from '../src/users/password-hasher';
import { UsersService } from '../src/users/users.service';
import {
  CONTRACT_POLICY,
  hash,
  newSession,
  newUserId,
  sessionRepositoryContract,
} from './contracts/session-repository.contract';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import {
  describeWithRedisServer,
  RedisClusterServers,
  startRedisCluster,
} from './support/redis-servers';
import { describeWithRedis } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

/** Loopback ports of the proxies that stand between an instance and its subscription. */
const PROXY_PORTS = { cut: 8503, silent: 8504 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls (bounded: 5 s) until `check` holds; what it waits for happens in milliseconds. */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`${what} did not happen within 5 s`);
}

/** What one service instance holds: its own connections, channel and near cache. */
interface Instance {
  readonly sessions: NearCachedSessionRepository;
  readonly channel: InvalidationChannel;
  readonly lookups: CacheLookups;
  close(): Promise<void>;
}

/**
 * An instance on `prefix` (the instances' shared sessions), subscribed once this resolves; its
 * subscription goes to `subscribeUrl` (a proxy) when given.
 */
async function openInstance(
  url: string,
  prefix: string,
  clock: FakeClock,
  options: { subscribeUrl?: string; policy?: SessionPolicy } = {},
): Promise<Instance> {
  const client = createRedisClient(url);
  await waitUntilReady(client, 10_000);
  const channel = new InvalidationChannel(client, options.subscribeUrl ?? url, prefix);
  channel.start();
  const lookups = new CacheLookups();
  const stored = new RedisSessionRepository(
    client,
    options.policy ?? CONTRACT_POLICY,
    clock,
    prefix,
  );
  await until('the subscription', () => channel.trusted());
  return {
    sessions: new NearCachedSessionRepository(stored, channel, clock, lookups),
    channel,
    lookups,
    close: async () => {
      await channel.close();
      await client.quit();
    },
  };
}

describeWithRedis('the near cache over Redis, kept in step by the invalidation channel', (url) => {
  const prefix = randomKeyPrefix('near');
  const opened: Instance[] = [];
  let admin: RedisClient;

  beforeAll(async () => {
    admin = createRedisClient(url, { connectionName: 'fingerprint-auth-test-admin' });
    if (!(await waitUntilReady(admin, 5000))) throw new Error(`Redis at ${url} is not ready`);
  });

  afterAll(async () => {
    for (const instance of opened.splice(0)) await instance.close();
    await deleteKeysWithPrefix(admin, prefix);
    await admin.quit();
  });

  const instance = async (
    clock: FakeClock,
    options: { subscribeUrl?: string; policy?: SessionPolicy } = {},
  ): Promise<Instance> => {
    const made = await openInstance(url, prefix, clock, options);
    opened.push(made);
    return {
      ...made,
      close: async () => {
        const index = opened.indexOf(made);
        if (index === -1) return;
        opened.splice(index, 1);
        await made.close();
      },
    };
  };

  sessionRepositoryContract(
    'NearCachedSessionRepository over RedisSessionRepository',
    async ({ policy, clock }) => {
      const made = await instance(clock, { policy });
      return { repository: made.sessions, close: made.close };
    },
    { boundedCapacity: false },
  );

  describe('two instances', () => {
    let clock: FakeClock;
    let a: Instance;
    let b: Instance;

    const hasher = new PasswordHasher();

    beforeAll(async () => {
      clock = new FakeClock(Date.UTC(2026, 0, 1));
      a = await instance(clock);
      b = await instance(clock);
    });

    afterAll(() => hasher.onModuleDestroy());

    /** Stored on A, read twice on B: B answers it from memory now. */
    async function keptOnB(userId = newUserId()) {
      const { session } = await a.sessions.create(newSession(userId));
      const hits = b.lookups.hits;
      expect(await b.sessions.findById(session.id)).not.toBeNull();
      expect(await b.sessions.findById(session.id)).not.toBeNull();
      expect(b.lookups.hits).toBe(hits + 1);
      return session;
    }

    /** B's next lookup of `id` goes to Redis (it is no longer kept) and gets this. */
    async function readByB(id: string) {
      const misses = b.lookups.misses;
      const found = await b.sessions.findById(id);
      expect(b.lookups.misses).toBe(misses + 1);
      return found;
    }

    it('drops on B a session A revoked, once the message is in (an answered PING says it is)', async () => {
      const session = await keptOnB();
      expect(await a.sessions.revoke(session.id, session.userId)).not.toBeNull();
      // Every message published before B's PING reached Redis is delivered before its answer.
      expect(await b.channel.heartbeat()).toBe(true);
      expect(await readByB(session.id)).toBeNull();
    });

    it("drops on B every session of a user A logged out everywhere, and the one A's login evicted", async () => {
      const userId = newUserId();
      const [one, two] = [await keptOnB(userId), await keptOnB(userId)];
      await a.sessions.revokeAllForUser(userId);
      expect(await b.channel.heartbeat()).toBe(true);
      expect(await readByB(one.id)).toBeNull();
      expect(await readByB(two.id)).toBeNull();

      const kept = await keptOnB(userId);
      for (let i = 0; i < 2; i++) {
        clock.advance(1000);
        await a.sessions.create(newSession(userId));
      }
      clock.advance(1000);
      // The limit is 3: this login evicts the least recently active session, `kept`.
      const { evicted } = await a.sessions.create(newSession(userId));
      expect(evicted.map((s) => s.id)).toEqual([kept.id]);
      expect(await b.channel.heartbeat()).toBe(true);
      expect(await readByB(kept.id)).toBeNull();
    });

    it('shows B the fingerprint A rotated to', async () => {
      const session = await keptOnB();
      const next = hash();
      const outcome = await a.sessions.rotateRefresh(session.id, {
        presentedHash: session.refreshHash,
        nextRefreshHash: hash(),
        nextFingerprintHash: next,
        ipAddress: session.ipAddress,
        userAgent: session.userAgent,
      });
      expect(outcome.kind).toBe('rotated');
      expect(await b.channel.heartbeat()).toBe(true);
      expect((await readByB(session.id))?.fingerprintHash).toBe(next);
    });

    it('drops on B a user A deleted, and a user A forgot', async () => {
      const connection = openSqliteConnection(':memory:');
      const database = sqliteDatabase(connection);
      try {
        await migrateToLatest(database.db, database.kind);
        // One user database, as the instances share one.
        const repository = new KyselyUserRepository(database);
        const metricsOfB = new FingerprintAuthMetrics();
        const onA = new UsersService(repository, hasher, clock, a.channel);
        const onB = new UsersService(repository, hasher, clock, b.channel, metricsOfB);
        const counted = metricsOfB.lookupsOf('users');
        const create = (email: string) =>
          repository.create({ email, emailSkeleton: email, displayName: null, passwordHash: 'x' });

        const gone = await create('gone@example.com');
        expect(await onB.signedIn(gone.id)).toMatchObject({ email: 'gone@example.com' });
        expect(await onB.signedIn(gone.id)).toMatchObject({ email: 'gone@example.com' });
        expect(counted.hits).toBe(1);
        expect(await onA.delete(gone.id)).toBe(true);
        expect(await b.channel.heartbeat()).toBe(true);
        expect(await onB.signedIn(gone.id)).toBeNull();
        expect(counted.hits).toBe(1);

        const renamed = await create('before@example.com');
        await onB.signedIn(renamed.id);
        // Changed outside the service (say by the host's own code), which then tells the service.
        connection
          .prepare('UPDATE users SET email = ? WHERE id = ?')
          .run('after@example.com', renamed.id);
        await onA.forget(renamed.id);
        expect(await b.channel.heartbeat()).toBe(true);
        expect(await onB.signedIn(renamed.id)).toMatchObject({ email: 'after@example.com' });
      } finally {
        await database.db.destroy();
      }
    });
  });

  describe('when the subscription fails', () => {
    const { hostname, port } = redisNodes(url)[0];
    const target = { host: hostname, port: Number(port || 6379) };
    const proxies: TcpProxy[] = [];

    afterEach(async () => {
      for (const proxy of proxies.splice(0)) await proxy.close();
    });

    /** A, and B subscribed through a proxy on `proxyPort`; B keeps a session A stored. */
    async function bBehindProxy(proxyPort: number) {
      const proxy = await TcpProxy.start(target, proxyPort);
      proxies.push(proxy);
      const clock = new FakeClock(Date.UTC(2026, 0, 1));
      const a = await instance(clock);
      const b = await instance(clock, { subscribeUrl: `redis://127.0.0.1:${proxy.port}` });
      const userId = newUserId();
      const { session } = await a.sessions.create(newSession(userId));
      await b.sessions.findById(session.id);
      expect(await b.sessions.findById(session.id)).not.toBeNull();
      expect(b.lookups.hits).toBe(1);
      return { proxy, a, b, userId, session };
    }

    it('bypasses the cache from the moment the connection is cut, so a revocation it missed is never answered from memory', async () => {
      const { proxy, a, b, userId, session } = await bBehindProxy(PROXY_PORTS.cut);

      await proxy.cut();
      await until('B notices', () => !b.channel.trusted());
      // The message goes nowhere: B's subscription is down, and stays down (the proxy refuses).
      await a.sessions.revoke(session.id, userId);
      expect(await b.sessions.findById(session.id)).toBeNull();
      expect(b.lookups).toMatchObject({ hits: 1, bypasses: 1 });
      // Nothing is kept while bypassing.
      const other = (await a.sessions.create(newSession(newUserId()))).session;
      await b.sessions.findById(other.id);
      await b.sessions.findById(other.id);
      expect(b.lookups).toMatchObject({ hits: 1, bypasses: 3 });

      await proxy.restore();
      await until('B subscribes again', () => b.channel.trusted());
      await b.sessions.findById(other.id);
      expect(await b.sessions.findById(other.id)).not.toBeNull();
      expect(b.lookups).toMatchObject({ hits: 2, bypasses: 3 });
    });

    it('bypasses the cache once the subscription goes silent for longer than its lease, and recovers by itself', async () => {
      const { proxy, a, b, userId, session } = await bBehindProxy(PROXY_PORTS.silent);

      // No reset, no close: nothing but the unanswered PINGs says the connection is dead.
      proxy.silence();
      await until('the lease lapses', () => !b.channel.trusted());
      await a.sessions.revoke(session.id, userId);
      expect(await b.sessions.findById(session.id)).toBeNull();
      expect(b.lookups).toMatchObject({ hits: 1, bypasses: 1 });

      // The PING swallowed by the silence times out: B opens a new subscription and trusts it.
      await proxy.restore();
      await until('B subscribes again', () => b.channel.trusted());
      const other = (await a.sessions.create(newSession(newUserId()))).session;
      await b.sessions.findById(other.id);
      await b.sessions.findById(other.id);
      expect(b.lookups.hits).toBe(2);
    });
  });
});

describeWithRedisServer('the near cache over a Redis Cluster', () => {
  /** Three masters on loopback; their cluster bus ports sit 3 above, inside the same range. */
  const ports = [8510, 8511, 8512];
  const prefix = randomKeyPrefix('near-cluster');
  let servers: RedisClusterServers;
  let a: Instance;
  let b: Instance;
  const clock = new FakeClock(Date.UTC(2026, 0, 1));

  beforeAll(async () => {
    servers = await startRedisCluster(ports, 3);
    a = await openInstance(servers.url, prefix, clock);
    b = await openInstance(servers.url, prefix, clock);
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await servers?.stop();
  });

  it("drops on B what A revoked on whichever master holds it, the message crossing the cluster's bus", async () => {
    // Users spread over the masters (their shard picks the slot); B listens on one node only.
    for (let i = 0; i < 6; i++) {
      const userId = newUserId();
      const { session } = await a.sessions.create(newSession(userId));
      await b.sessions.findById(session.id);
      const hits = b.lookups.hits;
      expect(await b.sessions.findById(session.id)).not.toBeNull();
      expect(b.lookups.hits).toBe(hits + 1);
      await a.sessions.revoke(session.id, userId);
      // The bus forwards the message on its own time: bounded polling, not B's PING, says when.
      const misses = b.lookups.misses;
      await until('B drops it', () => b.sessions.size === 0);
      expect(await b.sessions.findById(session.id)).toBeNull();
      expect(b.lookups.misses).toBe(misses + 1);
    }
  });
});
