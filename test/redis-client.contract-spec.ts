import Redis from 'ioredis';
import {
  commandTimeoutOf,
  createRedisClient,
  duplicateClient,
  RedisClient,
  waitUntilReady,
} from '../src/redis/redis-client';
import {
  describeWithRedisServer,
  redisCommand,
  RedisServer,
  startRedisServer,
} from './support/redis-servers';

/** This suite's own redis-server: it pauses it, which must not stall the shared one. */
const PORT = 8600;
const TIMEOUT_MS = 50;

/** Blocks the event loop, as a long GC pause or a burst of synchronous work on a busy machine does. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: nothing else runs, and the answer waits unread in the socket
  }
}

/** Sends PING and, once it is on the wire, blocks the loop for four command timeouts. */
function pingThroughAStall(client: RedisClient): Promise<string> {
  const reply = client.ping();
  // After the write (ioredis flushes its auto-pipeline before this runs), before the answer is read.
  setImmediate(() => blockEventLoop(4 * TIMEOUT_MS));
  return reply;
}

describeWithRedisServer('Redis command timeouts', () => {
  let server: RedisServer;
  let client: RedisClient;

  beforeAll(async () => {
    server = await startRedisServer(PORT);
    client = createRedisClient(server.url, { commandTimeoutMs: TIMEOUT_MS });
    expect(await waitUntilReady(client, 5000)).toBe(true);
  });

  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  it("ioredis's own commandTimeout fails an answer that arrived while the event loop was blocked", async () => {
    // The control: this is the failure the client below is built to avoid, reproduced.
    const plain = new Redis({ port: PORT, host: '127.0.0.1', commandTimeout: TIMEOUT_MS });
    try {
      await plain.ping();
      await expect(pingThroughAStall(plain)).rejects.toThrow('Command timed out');
    } finally {
      plain.disconnect();
    }
  });

  it('delivers an answer that arrived while the event loop was blocked past the timeout', async () => {
    await expect(pingThroughAStall(client)).resolves.toBe('PONG');
    const copy = duplicateClient(client);
    try {
      expect(commandTimeoutOf(copy)).toBe(TIMEOUT_MS);
      expect(await waitUntilReady(copy, 5000)).toBe(true);
      await expect(pingThroughAStall(copy)).resolves.toBe('PONG');
    } finally {
      copy.disconnect();
    }
  });

  it('fails a command that gets no answer within the timeout, and works again afterwards', async () => {
    expect(await redisCommand(PORT, 'CLIENT PAUSE 500 ALL')).toBe('+OK');
    await expect(client.get('fpa-timeout-probe')).rejects.toThrow('Command timed out');
    // The pause ends by itself; the same connection answers again.
    const deadline = Date.now() + 5000;
    let answer: string | null = null;
    while (answer !== 'PONG' && Date.now() < deadline) {
      answer = await client.ping().catch(() => null);
    }
    expect(answer).toBe('PONG');
  });

  it('says 0 for a client it did not make, and the timeout of one it did', () => {
    const foreign = new Redis({ port: PORT, host: '127.0.0.1', lazyConnect: true });
    expect(commandTimeoutOf(foreign)).toBe(0);
    expect(commandTimeoutOf(client)).toBe(TIMEOUT_MS);
    foreign.disconnect();
  });
});
