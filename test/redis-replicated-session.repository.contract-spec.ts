import { FakeClock } from '../src/common/clock';
import { StoreUnavailableError } from '../src/common/errors';
import { createRedisClient, RedisClient, waitUntilReady } from '../src/redis/redis-client';
import { RedisSessionRepository } from '../src/sessions/stores/redis/redis-session.repository';
import {
  CONTRACT_POLICY,
  hash,
  newSession,
  newUserId,
  sessionRepositoryContract,
} from './contracts/session-repository.contract';
import { randomKeyPrefix } from './support/redis';
import { userShard } from '../src/sessions/session-id';
import {
  clusterNodes,
  describeWithRedisServer,
  keySlot,
  RedisClusterServers,
  RedisServer,
  startRedisCluster,
  startRedisServer,
  waitForPromotion,
  waitForReplicaSync,
} from './support/redis-servers';

const MASTER_PORT = 8220;
const REPLICA_PORT = 8221;
const CLUSTER_PORTS = [8230, 8231, 8232, 8233, 8234, 8235];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the replica and waits (bounded) until it has the master's data and follows it. */
async function startReplica(): Promise<RedisServer> {
  const replica = await startRedisServer(REPLICA_PORT, {
    args: ['--replicaof', '127.0.0.1', String(MASTER_PORT)],
  });
  try {
    await waitForReplicaSync(REPLICA_PORT, 10_000);
  } catch (error) {
    await replica.stop();
    throw error;
  }
  return replica;
}

const rotationOf = (presentedHash: string) => ({
  presentedHash,
  nextRefreshHash: hash(),
  nextFingerprintHash: hash(),
  ipAddress: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
});

describeWithRedisServer(
  'RedisSessionRepository waiting for a replica (REDIS_WAIT_REPLICAS)',
  () => {
    const prefix = randomKeyPrefix('replicated');
    let master: RedisServer;
    let replica: RedisServer;
    let client: RedisClient;

    beforeAll(async () => {
      // A replica that (re)connects is served at once, not after the 5 s Redis waits for others.
      master = await startRedisServer(MASTER_PORT, { args: ['--repl-diskless-sync-delay', '0'] });
      replica = await startReplica();
      client = createRedisClient(master.url);
      if (!(await waitUntilReady(client, 5000))) throw new Error('the master is not ready');
    });

    afterAll(async () => {
      await client?.quit();
      await replica?.stop();
      await master?.stop();
    });

    sessionRepositoryContract(
      'RedisSessionRepository (WAIT for 1 replica)',
      ({ policy, clock }) => ({
        // The most the setting allows: a loaded test machine must not make a healthy replica late.
        repository: new RedisSessionRepository(client, policy, clock, prefix, {
          replicas: 1,
          timeoutMs: 400,
        }),
        close: async () => undefined,
      }),
      { boundedCapacity: false },
    );

    describe('when the replica does not acknowledge', () => {
      const clock = new FakeClock();
      const repository = (timeoutMs = 100) =>
        new RedisSessionRepository(client, CONTRACT_POLICY, clock, prefix, {
          replicas: 1,
          timeoutMs,
        });
      // Sets up and checks without waiting: only the writes under test wait for the replica, so
      // a loaded machine's slow acknowledgement fails nothing else.
      const plain = () => new RedisSessionRepository(client, CONTRACT_POLICY, clock, prefix);

      /** Runs `body` with the replica killed, and brings it back (in sync) afterwards. */
      async function withoutReplica(body: () => Promise<void>): Promise<void> {
        await replica.kill();
        try {
          await body();
        } finally {
          await replica.stop();
          replica = await startReplica();
        }
      }

      it('answers 503 to a login and leaves no session behind', async () => {
        const store = repository();
        const userId = newUserId();
        const input = newSession(userId);
        await withoutReplica(async () => {
          await expect(store.create(input)).rejects.toBeInstanceOf(StoreUnavailableError);
          expect(await store.findById(input.id)).toBeNull();
          expect(await store.listByUser(userId)).toEqual([]);
        });
        // With the replica back, the same login goes through.
        await expect(repository(400).create(input)).resolves.toMatchObject({
          session: { id: input.id },
        });
      });

      it('answers 503 to a refresh and takes the rotation back: the presented credential and fingerprint stay current', async () => {
        const store = repository();
        const first = newSession(newUserId());
        await plain().create(first);
        // A session rotated once before, so the rotation replaced a previous credential too.
        const second = newSession(newUserId());
        await plain().create(second);
        clock.advance(60_000);
        const rotatedOnce = rotationOf(second.refreshHash);
        expect((await plain().rotateRefresh(second.id, rotatedOnce)).kind).toBe('rotated');
        const before = [await plain().findById(first.id), await plain().findById(second.id)];
        clock.advance(60_000);

        await withoutReplica(async () => {
          for (const [input, presented] of [
            [first, first.refreshHash],
            [second, rotatedOnce.nextRefreshHash],
          ] as const) {
            await expect(
              store.rotateRefresh(input.id, rotationOf(presented)),
            ).rejects.toBeInstanceOf(StoreUnavailableError);
          }
        });

        for (const [index, input] of [first, second].entries()) {
          const session = await store.findById(input.id);
          expect(session).toMatchObject({
            refreshHash: before[index]?.refreshHash,
            fingerprintHash: before[index]?.fingerprintHash,
            previousRefreshHash: before[index]?.previousRefreshHash,
            refreshRotatedAt: before[index]?.refreshRotatedAt,
          });
        }
        // The client still holds the credential it presented: its next refresh rotates normally.
        expect((await plain().rotateRefresh(first.id, rotationOf(first.refreshHash))).kind).toBe(
          'rotated',
        );
        expect(
          (await plain().rotateRefresh(second.id, rotationOf(rotatedOnce.nextRefreshHash))).kind,
        ).toBe('rotated');
      });

      it('answers reads while a write waits for the replica: the writes have a connection of their own', async () => {
        // A client of this case's own: its writes are held up long after the case.
        const own = createRedisClient(master.url);
        try {
          expect(await waitUntilReady(own, 5000)).toBe(true);
          // Redis holds the WAIT for 2 s, past the 500 ms a command is given: on a shared
          // connection the read sent after it could only time out.
          const store = new RedisSessionRepository(own, CONTRACT_POLICY, clock, prefix, {
            replicas: 1,
            timeoutMs: 2000,
          });
          const revoked = newSession(newUserId());
          const read = newSession(newUserId());
          for (const input of [revoked, read]) await plain().create(input);
          await withoutReplica(async () => {
            const revocation = store.revoke(revoked.id, revoked.userId);
            await expect(store.findById(read.id)).resolves.toMatchObject({ id: read.id });
            await expect(revocation).rejects.toBeInstanceOf(StoreUnavailableError);
          });
        } finally {
          own.disconnect();
        }
      });

      it('answers 503 to a revocation the master has done but no replica confirmed', async () => {
        const store = repository();
        const userId = newUserId();
        const one = newSession(userId);
        const others = [newSession(userId), newSession(userId)];
        for (const input of [one, ...others]) await plain().create(input);

        await withoutReplica(async () => {
          await expect(store.revoke(one.id, userId)).rejects.toBeInstanceOf(StoreUnavailableError);
          await expect(store.revokeAllForUser(userId)).rejects.toBeInstanceOf(
            StoreUnavailableError,
          );
          // Gone from the master; a failover before a replica has it could bring it back.
          expect(await store.listByUser(userId)).toEqual([]);
          // Nothing to revoke is not a write: nothing to confirm.
          expect(await store.revoke(one.id, userId)).toBeNull();
          expect(await store.revokeAllForUser(userId)).toBe(0);
        });
      });
    });
  },
);

describeWithRedisServer('RedisSessionRepository waiting for a replica, on a Redis Cluster', () => {
  let cluster: RedisClusterServers;
  let client: RedisClient;

  beforeAll(async () => {
    cluster = await startRedisCluster(CLUSTER_PORTS, 10_000, { replicas: 1, nodeTimeoutMs: 1000 });
    client = createRedisClient(cluster.url);
    if (!(await waitUntilReady(client, 10_000))) throw new Error('the cluster is not ready');
  }, 60_000);

  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  it('finds the new master of a failed-over slot by itself, with no other traffic', async () => {
    const store = new RedisSessionRepository(
      client,
      CONTRACT_POLICY,
      new FakeClock(),
      randomKeyPrefix('replicated-cluster'),
      { replicas: 1, timeoutMs: 400 },
    );
    const port = CLUSTER_PORTS[0];
    const nodes = await clusterNodes(port);
    const master = nodes.find((node) => node.role === 'master') as (typeof nodes)[number];
    const replica = nodes.find((node) => node.masterId === master.id) as (typeof nodes)[number];
    // A user whose keys live on that master.
    let userId = newUserId();
    for (let attempt = 0; attempt < 1000; attempt++) {
      const slot = await keySlot(port, `{${userShard(userId)}}`);
      if (master.slots.some(([from, to]) => slot >= from && slot <= to)) break;
      userId = newUserId();
    }
    await store.create(newSession(userId));

    // Killed, failed over, and back as the new master's replica, so WAIT can be satisfied again.
    await cluster.servers.find((server) => server.port === master.port)?.kill();
    const survivors = nodes.map((node) => node.port).filter((other) => other !== master.port);
    await waitForPromotion(replica.port, survivors);
    await cluster.restart(master.port);
    await waitForReplicaSync(master.port);

    // The first write may still go to the node that served the slot and be told where it moved
    // (a 503); ioredis does not follow that for a pipeline, so the repository has it relearn the
    // slots. Without that, every write of this user would fail from now on.
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 5 && outcomes.at(-1) !== 'created'; attempt++) {
      outcomes.push(
        await store.create(newSession(userId)).then(
          () => 'created',
          (error: unknown) => (error instanceof StoreUnavailableError ? '503' : String(error)),
        ),
      );
      await sleep(200);
    }
    expect(outcomes.at(-1)).toBe('created');
    expect(outcomes.slice(0, -1).every((outcome) => outcome === '503')).toBe(true);
  }, 60_000);
});
