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
import {
  describeWithRedisServer,
  RedisServer,
  replicationInfo,
  startRedisServer,
} from './support/redis-servers';

const MASTER_PORT = 8220;
const REPLICA_PORT = 8221;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the replica and waits (bounded) until it has the master's data and follows it. */
async function startReplica(): Promise<RedisServer> {
  const replica = await startRedisServer(REPLICA_PORT, {
    args: ['--replicaof', '127.0.0.1', String(MASTER_PORT)],
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await replicationInfo(REPLICA_PORT)).master_link_status === 'up') return replica;
    await sleep(100);
  }
  await replica.stop();
  throw new Error('the replica did not get in sync with its master');
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
      const repository = () =>
        new RedisSessionRepository(client, CONTRACT_POLICY, clock, prefix, {
          replicas: 1,
          timeoutMs: 100,
        });

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
        await expect(store.create(input)).resolves.toMatchObject({ session: { id: input.id } });
      });

      it('answers 503 to a refresh and takes the rotation back: the presented credential and fingerprint stay current', async () => {
        const store = repository();
        const first = newSession(newUserId());
        await store.create(first);
        // A session rotated once before, so the rotation replaced a previous credential too.
        const second = newSession(newUserId());
        await store.create(second);
        clock.advance(60_000);
        const rotatedOnce = rotationOf(second.refreshHash);
        expect((await store.rotateRefresh(second.id, rotatedOnce)).kind).toBe('rotated');
        const before = [await store.findById(first.id), await store.findById(second.id)];
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
        expect((await store.rotateRefresh(first.id, rotationOf(first.refreshHash))).kind).toBe(
          'rotated',
        );
        expect(
          (await store.rotateRefresh(second.id, rotationOf(rotatedOnce.nextRefreshHash))).kind,
        ).toBe('rotated');
      });

      it('answers 503 to a revocation the master has done but no replica confirmed', async () => {
        const store = repository();
        const userId = newUserId();
        const one = newSession(userId);
        const others = [newSession(userId), newSession(userId)];
        for (const input of [one, ...others]) await store.create(input);

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
