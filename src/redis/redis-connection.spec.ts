import { Logger } from '@nestjs/common';
import { once } from 'node:events';
import { createRedisClient } from './redis-client';
import { logConnectionTrouble } from './redis-connection';

class CapturingLogger extends Logger {
  readonly lines: string[] = [];

  override error(message: unknown): void {
    this.lines.push(`error ${String(message)}`);
  }

  override log(message: unknown): void {
    this.lines.push(`log ${String(message)}`);
  }
}

describe('logConnectionTrouble', () => {
  it('logs an outage once, however often reconnecting fails, and never the address or password', async () => {
    // Nothing listens on this loopback port, so every reconnect attempt fails.
    const client = createRedisClient('redis://fpa-user:s3cret-password@127.0.0.1:7398');
    const logger = new CapturingLogger('Redis');
    logConnectionTrouble(client, logger);
    try {
      for (let attempt = 0; attempt < 4; attempt++) await once(client, 'error');
    } finally {
      client.disconnect();
    }
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(/^error Redis connection lost \(ECONNREFUSED\)/);
    for (const secret of ['s3cret-password', 'fpa-user', '7398', '127.0.0.1']) {
      expect(logger.lines[0]).not.toContain(secret);
    }
    // ioredis gives a socket that never connected its 2 s disconnect timeout before dropping it.
    await new Promise((resolve) => setTimeout(resolve, 2100));
  });
});
