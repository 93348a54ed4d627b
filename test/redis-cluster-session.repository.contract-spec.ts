import { Cluster } from 'ioredis';
import { createRedisClient, RedisClient, waitUntilReady } from '../src/redis/redis-client';
import { RedisSessionRepository } from '../src/sessions/stores/redis/redis-session.repository';
import { newSessionId, userShard } from '../src/sessions/session-id';
import { FakeClock } from '../src/common/clock';
import {
  CONTRACT_POLICY,
  sessionRepositoryContract,
} from './contracts/session-repository.contract';
import { randomKeyPrefix } from './support/redis';
import {
  describeWithRedisServer,
  RedisClusterServers,
  startRedisCluster,
} from './support/redis-servers';

/** Three masters on loopback; their cluster bus ports sit 10 above, inside the same range. */
const PORTS = [7310, 7311, 7312];
const BUS_PORT_OFFSET = 10;

describeWithRedisServer('RedisSessionRepository on a Redis Cluster', () => {
  const prefix = randomKeyPrefix('cluster');
  let servers: RedisClusterServers;
  let client: RedisClient;

  beforeAll(async () => {
    servers = await startRedisCluster(PORTS, BUS_PORT_OFFSET);
    client = createRedisClient(servers.url);
    if (!(await waitUntilReady(client, 10_000))) throw new Error('the cluster is not ready');
  }, 60_000);

  afterAll(async () => {
    await client?.quit();
    await servers?.stop();
  });

  it('talks to the cluster through createRedisClient with comma-separated nodes', () => {
    expect(client).toBeInstanceOf(Cluster);
    expect((client as Cluster).nodes('master')).toHaveLength(3);
  });

  sessionRepositoryContract(
    'RedisSessionRepository (cluster)',
    ({ policy, clock }) => ({
      repository: new RedisSessionRepository(client, policy, clock, prefix),
      close: async () => undefined,
    }),
    { boundedCapacity: false },
  );

  it("spreads users over the masters while each user's keys share one slot", async () => {
    const repository = new RedisSessionRepository(client, CONTRACT_POLICY, new FakeClock(), prefix);
    const cluster = client as Cluster;
    const slots = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const userId = `spread-${i}`;
      const id = newSessionId(userId);
      await repository.create({
        id,
        userId,
        fingerprintHash: 'f'.repeat(43),
        refreshHash: 'r'.repeat(43),
        ipAddress: '203.0.113.7',
        userAgent: 'Mozilla/5.0',
        location: null,
      });
      const tag = `{${userShard(userId)}}`;
      const sessionSlot = await cluster.cluster('KEYSLOT', `${prefix}${tag}:s:${id}`);
      const indexSlot = await cluster.cluster('KEYSLOT', `${prefix}${tag}:u:${userId}`);
      expect(indexSlot).toBe(sessionSlot);
      slots.add(Number(sessionSlot));
    }
    const masters = new Set<string>();
    const ranges = await cluster.cluster('SLOTS');
    for (const slot of slots) {
      const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
      masters.add(`${owner?.[2][0]}:${owner?.[2][1]}`);
    }
    expect(masters.size).toBeGreaterThan(1);
  });
});
