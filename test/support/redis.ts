import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../src/redis/redis-client';

/** A key prefix no other run shares, so suites can use the shared Redis side by side. */
export const randomKeyPrefix = (label = 'test'): string =>
  `fpa-${label}-${randomBytes(6).toString('hex')}:`;

/** Every key under `prefix` (on every master of a cluster); SCAN, bounded by the key count. */
export async function keysWithPrefix(client: RedisClient, prefix: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** Deletes every key under `prefix`; returns how many went. */
export async function deleteKeysWithPrefix(client: RedisClient, prefix: string): Promise<number> {
  let deleted = 0;
  // One DEL per key: in a cluster the keys of one batch live in many slots.
  for (const key of await keysWithPrefix(client, prefix)) deleted += await client.del(key);
  return deleted;
}
