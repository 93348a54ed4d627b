import { randomBytes } from 'node:crypto';
import { RateLimitRule, RateLimitStore } from '../../src/rate-limit/rate-limit.store';

export const WINDOW_SECONDS = 60;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A rule of its own per test, so counters never carry over between tests. */
export const rule = (limit: number, windowSeconds = WINDOW_SECONDS): RateLimitRule => ({
  name: `login:${randomBytes(4).toString('hex')}`,
  limit,
  windowSeconds,
});

/** The contract every RateLimitStore adapter meets; `make` gives a fresh store. */
export function rateLimitStoreContract(
  make: () => Promise<{ store: RateLimitStore; close(): Promise<void> }>,
): void {
  let store: RateLimitStore;
  let close: () => Promise<void>;
  const key = () => randomBytes(8).toString('hex');

  beforeEach(async () => {
    ({ store, close } = await make());
  });

  afterEach(async () => {
    await close();
  });

  it('allows the limit, then refuses with the seconds left in the window', async () => {
    const limit = rule(3);
    const k = key();
    const decisions = [];
    for (let i = 0; i < 5; i++) decisions.push(await store.consume(limit, k));
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, false, false]);
    expect(decisions[0].retryAfterSeconds).toBe(0);
    const refused = decisions[3];
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(WINDOW_SECONDS);
  });

  it('keeps keys and rules apart', async () => {
    const [a, b] = [rule(2), rule(2)];
    const [k, other] = [key(), key()];
    for (let i = 0; i < 2; i++) await store.consume(a, k);
    expect((await store.consume(a, k)).allowed).toBe(false);
    expect((await store.consume(a, other)).allowed).toBe(true);
    expect((await store.consume(b, k)).allowed).toBe(true);
  });

  it('reset forgets the attempts of one key only', async () => {
    const limit = rule(2);
    const [a, b] = [key(), key()];
    for (let i = 0; i < 3; i++) {
      await store.consume(limit, a);
      await store.consume(limit, b);
    }
    await store.reset(limit, a);
    expect((await store.consume(limit, a)).allowed).toBe(true);
    expect((await store.consume(limit, b)).allowed).toBe(false);
    await expect(store.reset(limit, key())).resolves.toBeUndefined();
  });

  it('lets a key in again once its window has passed', async () => {
    const limit = rule(1, 1);
    const k = key();
    expect((await store.consume(limit, k)).allowed).toBe(true);
    expect((await store.consume(limit, k)).allowed).toBe(false);
    await sleep(1100);
    expect((await store.consume(limit, k)).allowed).toBe(true);
  });

  it('counts concurrent attempts exactly', async () => {
    const limit = rule(10);
    const k = key();
    const decisions = await Promise.all(Array.from({ length: 25 }, () => store.consume(limit, k)));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(10);
  });
}
