import Redis from 'ioredis';

/** Removes every key this run wrote (its own prefix only: the Redis server is shared). */
export async function removeRedisKeys(url: string, prefix: string): Promise<number> {
  const first = url.split(',')[0].trim();
  const client = new Redis(first.includes('://') ? first : `redis://${first}`, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  let removed = 0;
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(
        cursor,
        'MATCH',
        `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      if (keys.length > 0) removed += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return removed;
}

/** True when something answers PING at the URL within a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const first = url.split(',')[0].trim();
  const client = new Redis(first.includes('://') ? first : `redis://${first}`, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Counts the keys under a run's prefix over time (a shared server: never the whole keyspace). */
export class RedisKeyCounter {
  private readonly client: Redis;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    const first = url.split(',')[0].trim();
    this.client = new Redis(first.includes('://') ? first : `redis://${first}`, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
  }

  /** Every key under the prefix, and the session records among them (`…}:s:<id>`). */
  async count(): Promise<{ keys: number; sessions: number }> {
    let keys = 0;
    let sessions = 0;
    let cursor = '0';
    do {
      const [next, found] = await this.client.scan(
        cursor,
        'MATCH',
        `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      keys += found.length;
      sessions += found.filter((key) => key.includes('}:s:')).length;
    } while (cursor !== '0');
    return { keys, sessions };
  }

  close(): void {
    this.client.disconnect();
  }
}
