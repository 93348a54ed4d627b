import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../src/redis/redis-client';

/** A key prefix no other run shares, so suites can use the shared Redis side by side. */
export const randomKeyPrefix = (label = 'test'): string =>
  `fpa-${label}-${randomBytes(6).toString('hex')}:`;

/** Deletes every key under `prefix` (on every master of a cluster); bounded by the key count. */
export async function deleteKeysWithPrefix(client: RedisClient, prefix: string): Promise<number> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: in a cluster the keys of one batch live in many slots.
      for (const key of keys) deleted += await node.del(key);
    } while (cursor !== '0');
  }
  return deleted;
}
