import { randomBytes } from 'node:crypto';
import { RateLimitStorage } from '../../src/rate-limit/rate-limit.storage';

export const WINDOW = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The contract every RateLimitStorage adapter meets; `make` gives a fresh, empty storage. */
export function rateLimitStorageContract(
  make: () => Promise<{ storage: RateLimitStorage; close(): Promise<void> }>,
): void {
  let storage: RateLimitStorage;
  let close: () => Promise<void>;
  const key = () => `login:account:${randomBytes(8).toString('hex')}`;

  beforeEach(async () => {
    ({ storage, close } = await make());
  });

  afterEach(async () => {
    await close();
  });

  it('counts hits and blocks once they exceed the limit, with the time left', async () => {
    const k = key();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await storage.increment(k, WINDOW, 3, WINDOW, 'ip'));
    expect(results.map((r) => [r.totalHits, r.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
    const blocked = results[3];
    expect(blocked.timeToBlockExpire).toBeGreaterThan(0);
    expect(blocked.timeToBlockExpire).toBeLessThanOrEqual(WINDOW / 1000);
    expect((await storage.increment(k, WINDOW, 3, WINDOW, 'ip')).isBlocked).toBe(true);
  });

  it('keeps keys and throttler names apart', async () => {
    const [a, b] = [key(), key()];
    for (let i = 0; i < 3; i++) await storage.increment(a, WINDOW, 2, WINDOW, 'ip');
    expect((await storage.increment(a, WINDOW, 2, WINDOW, 'ip')).isBlocked).toBe(true);
    expect(await storage.increment(b, WINDOW, 2, WINDOW, 'ip')).toMatchObject({
      totalHits: 1,
      isBlocked: false,
    });
  });

  it('reset forgets the hits and the block of one key only', async () => {
    const [a, b] = [key(), key()];
    for (let i = 0; i < 3; i++) {
      await storage.increment(a, WINDOW, 2, WINDOW, 'account');
      await storage.increment(b, WINDOW, 2, WINDOW, 'account');
    }
    await storage.reset(a, 'account');
    expect(await storage.increment(a, WINDOW, 2, WINDOW, 'account')).toMatchObject({
      totalHits: 1,
      isBlocked: false,
    });
    expect((await storage.increment(b, WINDOW, 2, WINDOW, 'account')).isBlocked).toBe(true);
    await expect(storage.reset(key(), 'account')).resolves.toBeUndefined();
  });

  it('lets a key in again once its window and block have passed', async () => {
    const k = key();
    await storage.increment(k, 300, 1, 300, 'ip');
    expect((await storage.increment(k, 300, 1, 300, 'ip')).isBlocked).toBe(true);
    await sleep(700);
    expect(await storage.increment(k, 300, 1, 300, 'ip')).toMatchObject({
      totalHits: 1,
      isBlocked: false,
    });
  });
}
