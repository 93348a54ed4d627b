import { FakeClock } from '../common/clock';
import { InMemorySessionRepository } from './in-memory-session.repository';
import { NewSession, SessionPolicy } from './session';
import { SessionStoreFullError } from './session.errors';

/*
 * What only the in-memory store does: a fixed capacity, the bucketed sweep and snapshots.
 * The behaviour every store shares is in test/contracts/session-repository.contract.ts.
 */

const MINUTE = 60_000;
const policy: SessionPolicy = {
  idleTtl: 30 * 60,
  absoluteTtl: 8 * 3600,
  maxPerUser: 3,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

let counter = 0;
const newSession = (userId = 'user-1', overrides: Partial<NewSession> = {}): NewSession => ({
  id: `session-${String(++counter).padStart(14, '0')}`,
  userId,
  fingerprintHash: 'f'.repeat(43),
  refreshHash: 'r'.repeat(43),
  ipAddress: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  location: null,
  ...overrides,
});

describe('InMemorySessionRepository', () => {
  let clock: FakeClock;
  let repository: InMemorySessionRepository;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    repository = new InMemorySessionRepository(policy, 100, clock);
  });

  it('is full at capacity once expired sessions are dropped', async () => {
    const small = new InMemorySessionRepository({ ...policy, maxPerUser: 10 }, 2, clock);
    await small.create(newSession('a'));
    await small.create(newSession('b'));
    await expect(small.create(newSession('c'))).rejects.toBeInstanceOf(SessionStoreFullError);
    clock.advance(31 * MINUTE);
    await expect(small.create(newSession('c'))).resolves.toBeDefined();
    expect((await small.stats()).stored).toBe(1);
  });

  it('sweeps exactly the expired sessions, in batches', async () => {
    const large = new InMemorySessionRepository({ ...policy, maxPerUser: 1000 }, 10_000, clock);
    const early: string[] = [];
    for (let i = 0; i < 50; i++)
      early.push((await large.create(newSession(`u${i % 5}`))).session.id);
    clock.advance(10 * MINUTE);
    const late: string[] = [];
    for (let i = 0; i < 30; i++)
      late.push((await large.create(newSession(`u${i % 5}`))).session.id);
    // Half of the early ones stay active; the other half expire at 30 minutes, the late ones at 40.
    clock.advance(15 * MINUTE);
    for (const id of early.slice(0, 25)) await large.touch(id, '203.0.113.7', 'Mozilla/5.0');
    clock.advance(6 * MINUTE);

    expect((await large.stats()).stored).toBe(80);
    const batches: number[] = [];
    for (;;) {
      const result = await large.deleteExpired(10);
      batches.push(result.removed);
      expect(result.removed).toBeLessThanOrEqual(10);
      if (!result.more) break;
    }
    expect(batches.reduce((a, b) => a + b, 0)).toBe(25);
    expect(batches.length).toBeGreaterThan(2);
    expect((await large.stats()).stored).toBe(55);
    for (const id of early.slice(25)) expect(await large.findById(id)).toBeNull();
    for (const id of [...early.slice(0, 25), ...late])
      expect(await large.findById(id)).not.toBeNull();

    // Those it kept are swept when their own time comes.
    clock.advance(31 * MINUTE);
    let removed = 0;
    for (let more = true; more;) {
      const result = await large.deleteExpired(1000);
      removed += result.removed;
      more = result.more;
    }
    expect(removed).toBe(55);
    expect((await large.stats()).stored).toBe(0);
  });

  it('restores saved sessions that are still live and skips expired ones', async () => {
    const { session } = await repository.create(newSession());
    const saved = [...repository.entries()].map((s) => ({ ...s }));
    const fresh = new InMemorySessionRepository(policy, 100, clock);
    expect(fresh.restore(saved[0])).toBe(true);
    expect(await fresh.findById(session.id)).toMatchObject({ id: session.id, userId: 'user-1' });
    clock.advance(31 * MINUTE);
    const later = new InMemorySessionRepository(policy, 100, clock);
    expect(later.restore(saved[0])).toBe(false);
  });
});
