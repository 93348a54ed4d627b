import { createHash } from 'node:crypto';
import { FakeClock } from '../../../common/clock';
import { InMemorySessionRepository } from './in-memory-session.repository';
import { NewSession, Session, SessionPolicy } from '../../session';
import { SessionStoreFullError } from '../../session.errors';

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

/** Every session the store exports (its port's `exportAll`). */
async function exported(store: InMemorySessionRepository): Promise<Session[]> {
  const sessions: Session[] = [];
  for await (const session of store.exportAll()) sessions.push(session);
  return sessions;
}

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

  it('returns real SHA-256 hashes exactly as stored, through rotation, listing and restore', async () => {
    // The service's hashes are kept packed as raw bytes; what comes back must be the same text.
    const hash = (value: string) => createHash('sha256').update(value).digest('base64url');
    const [fingerprint, refresh, nextFingerprint, nextRefresh] = ['f1', 'r1', 'f2', 'r2'].map(hash);
    const { session } = await repository.create(
      newSession('user-1', { fingerprintHash: fingerprint, refreshHash: refresh }),
    );
    expect(session).toMatchObject({ fingerprintHash: fingerprint, refreshHash: refresh });

    const outcome = await repository.rotateRefresh(session.id, {
      presentedHash: refresh,
      nextRefreshHash: nextRefresh,
      nextFingerprintHash: nextFingerprint,
      ipAddress: '198.51.100.9',
      userAgent: 'Mozilla/5.0',
    });
    expect(outcome.kind).toBe('rotated');
    const expected = {
      fingerprintHash: nextFingerprint,
      refreshHash: nextRefresh,
      previousRefreshHash: refresh,
      refreshRotatedAt: Math.floor(clock.now() / 1000),
      ipAddress: '198.51.100.9',
      loginIpAddress: '203.0.113.7',
      loginUserAgent: null,
    };
    expect(await repository.findById(session.id)).toMatchObject(expected);
    expect(await repository.listByUser('user-1')).toEqual([expect.objectContaining(expected)]);

    // Callers and snapshots get plain objects with every field their own (spreading keeps them all),
    // and a saved one restores into an equal session.
    const [saved] = await exported(repository);
    expect(saved).toEqual(expect.objectContaining({ id: session.id, ...expected }));
    expect(Object.keys(saved)).toHaveLength(15);
    expect({ ...(await repository.findById(session.id)) }).toStrictEqual(saved);
    const fresh = new InMemorySessionRepository(policy, 100, clock);
    expect(await fresh.importSession({ ...saved })).toBe('imported');
    expect(await exported(fresh)).toEqual([saved]);
  });

  it('keeps hash-like values that are not canonical base64url exactly as given', async () => {
    // 43 characters whose last one carries bits a 32-byte value cannot have: must not be re-encoded.
    const odd = `${'A'.repeat(42)}B`;
    const { session } = await repository.create(
      newSession('user-1', { fingerprintHash: odd, refreshHash: 'x'.repeat(43) }),
    );
    expect(await repository.findById(session.id)).toMatchObject({
      fingerprintHash: odd,
      refreshHash: 'x'.repeat(43),
    });
  });

  it("revokes only the owner's session", async () => {
    const { session } = await repository.create(newSession('owner'));
    expect(await repository.revoke(session.id, 'someone-else')).toBeNull();
    expect(await repository.findById(session.id)).not.toBeNull();
    // Held in this process: answered without a promise, the same answer.
    expect(repository.findInMemory(session.id)).toEqual(await repository.findById(session.id));
    expect((await repository.revoke(session.id, 'owner'))?.id).toBe(session.id);
    expect(await repository.findById(session.id)).toBeNull();
    expect(repository.findInMemory(session.id)).toBeNull();
    expect(await repository.revoke(session.id, 'owner')).toBeNull();
  });

  it("revokes all of a user's sessions but one", async () => {
    const kept = (await repository.create(newSession('u'))).session;
    await repository.create(newSession('u'));
    await repository.create(newSession('u'));
    const other = (await repository.create(newSession('v'))).session;
    expect(await repository.revokeAllForUser('u', kept.id)).toBe(2);
    expect((await repository.listByUser('u')).map((s) => s.id)).toEqual([kept.id]);
    expect(await repository.findById(other.id)).not.toBeNull();
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

  it('imports exported sessions that are still live and skips expired ones', async () => {
    const { session } = await repository.create(newSession());
    const saved = (await exported(repository)).map((s) => ({ ...s }));
    const fresh = new InMemorySessionRepository(policy, 100, clock);
    expect(await fresh.importSession(saved[0])).toBe('imported');
    expect(await fresh.importSession(saved[0])).toBe('exists');
    expect(await fresh.findById(session.id)).toMatchObject({ id: session.id, userId: 'user-1' });
    clock.advance(31 * MINUTE);
    const later = new InMemorySessionRepository(policy, 100, clock);
    expect(await later.importSession(saved[0])).toBe('expired');
  });
});
