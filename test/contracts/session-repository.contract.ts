import { randomBytes } from 'node:crypto';
import { FakeClock } from '../../src/common/clock';
import type { GeoLocation } from '../../src/geoip/geo-location';
import { NewSession, Session, SessionPolicy } from '../../src/sessions/session';
import { SessionLimitReachedError } from '../../src/sessions/session.errors';
import { RefreshRotation, SessionRepository } from '../../src/sessions/session.repository';
import { newSessionId } from '../../src/sessions/session-id';

export interface SessionRepositoryFactoryInput {
  readonly policy: SessionPolicy;
  /** Most sessions the store may hold, for stores with a fixed capacity. */
  readonly capacity: number;
  readonly clock: FakeClock;
}

export interface SessionRepositoryUnderTest {
  readonly repository: SessionRepository;
  /** Releases what the factory opened (the store's keys stay for the runner to delete). */
  close(): Promise<void>;
}

export type SessionRepositoryFactory = (
  input: SessionRepositoryFactoryInput,
) => SessionRepositoryUnderTest | Promise<SessionRepositoryUnderTest>;

/** What differs between stores by design, so the cases that depend on it run only where it applies. */
export interface SessionRepositoryTraits {
  /** A fixed capacity with exact counts (in-memory); otherwise `capacity: null` (Redis). */
  readonly boundedCapacity: boolean;
}

const MINUTE = 60_000;
const SECOND = 1000;

export const CONTRACT_POLICY: SessionPolicy = {
  idleTtl: 30 * 60,
  absoluteTtl: 8 * 3600,
  maxPerUser: 3,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

const CAPACITY = 10_000;

const FIELDS: readonly (keyof Session)[] = [
  'absoluteExpiresAt',
  'createdAt',
  'fingerprintHash',
  'id',
  'idleExpiresAt',
  'ipAddress',
  'lastActivity',
  'location',
  'loginIpAddress',
  'loginUserAgent',
  'previousRefreshHash',
  'refreshHash',
  'refreshRotatedAt',
  'userAgent',
  'userId',
];

/** A 43-character base64url string, like a SHA-256 hash. */
export const hash = (): string => randomBytes(32).toString('base64url');
/** A user id no other case or run shares, so stores shared between runs never mix users. */
export const newUserId = (): string => `user-${randomBytes(8).toString('hex')}`;

export function newSession(userId: string, overrides: Partial<NewSession> = {}): NewSession {
  return {
    id: newSessionId(userId),
    userId,
    fingerprintHash: hash(),
    refreshHash: hash(),
    ipAddress: '203.0.113.7',
    userAgent: 'Mozilla/5.0',
    location: null,
    ...overrides,
  };
}

function rotation(
  presentedHash: string,
  overrides: Partial<RefreshRotation> = {},
): RefreshRotation {
  return {
    presentedHash,
    nextRefreshHash: hash(),
    nextFingerprintHash: hash(),
    ipAddress: '203.0.113.7',
    userAgent: 'Mozilla/5.0',
    ...overrides,
  };
}

const ids = (sessions: readonly Session[]): string[] => sessions.map((s) => s.id).sort();

/**
 * The behaviour every `SessionRepository` adapter must show. The factory builds a repository over
 * the given policy and fake clock; every case uses users of its own.
 */
export function sessionRepositoryContract(
  name: string,
  factory: SessionRepositoryFactory,
  traits: SessionRepositoryTraits,
): void {
  describe(`${name} (SessionRepository contract)`, () => {
    let clock: FakeClock;
    let repository: SessionRepository;
    const opened: SessionRepositoryUnderTest[] = [];
    const nowSeconds = () => Math.floor(clock.now() / 1000);

    async function open(policy: Partial<SessionPolicy> = {}): Promise<SessionRepository> {
      const made = await factory({
        policy: { ...CONTRACT_POLICY, ...policy },
        capacity: CAPACITY,
        clock,
      });
      opened.push(made);
      return made.repository;
    }

    beforeEach(async () => {
      clock = new FakeClock(Date.UTC(2026, 0, 1));
      repository = await open();
    });

    afterEach(async () => {
      for (const made of opened.splice(0)) await made.close();
    });

    describe('expiry', () => {
      it('expires a session after the idle timeout without activity', async () => {
        const { session } = await repository.create(newSession(newUserId()));
        clock.advance(29 * MINUTE);
        expect(await repository.findById(session.id)).not.toBeNull();
        clock.advance(1 * MINUTE);
        expect(await repository.findById(session.id)).toBeNull();
      });

      it('slides the idle expiry on activity but never past the absolute lifetime', async () => {
        const { session } = await repository.create(newSession(newUserId()));
        for (let elapsed = 0; elapsed < 8 * 60 - 20; elapsed += 20) {
          clock.advance(20 * MINUTE);
          await repository.touch(session.id, '203.0.113.7', 'Mozilla/5.0');
          expect(await repository.findById(session.id)).not.toBeNull();
        }
        const live = await repository.findById(session.id);
        expect(live?.idleExpiresAt).toBe(live?.absoluteExpiresAt);
        expect(live?.absoluteExpiresAt).toBe(session.absoluteExpiresAt);
        clock.advance(20 * MINUTE);
        await repository.touch(session.id, '203.0.113.7', 'Mozilla/5.0');
        expect(await repository.findById(session.id)).toBeNull();
      });

      it('does not bring back a session by touching it after it expired', async () => {
        const userId = newUserId();
        const { session } = await repository.create(newSession(userId));
        clock.advance(31 * MINUTE);
        await repository.touch(session.id, '198.51.100.1', 'Other/1.0');
        expect(await repository.findById(session.id)).toBeNull();
        expect(await repository.listByUser(userId)).toEqual([]);
      });

      it('ignores a touch for an id it never stored', async () => {
        const userId = newUserId();
        const unknown = newSessionId(userId);
        await repository.touch(unknown, '203.0.113.7', 'Mozilla/5.0');
        expect(await repository.findById(unknown)).toBeNull();
        expect(await repository.listByUser(userId)).toEqual([]);
      });

      it('keeps live sessions through deleteExpired and never shows expired ones', async () => {
        const userId = newUserId();
        const early = (await repository.create(newSession(userId))).session;
        clock.advance(10 * MINUTE);
        const late = (await repository.create(newSession(userId))).session;
        clock.advance(25 * MINUTE);
        for (let more = true, rounds = 0; more && rounds < 100; rounds++) {
          const result = await repository.deleteExpired(100);
          expect(result.removed).toBeLessThanOrEqual(100);
          more = result.more;
        }
        expect(await repository.findById(early.id)).toBeNull();
        expect(await repository.findById(late.id)).not.toBeNull();
        expect(ids(await repository.listByUser(userId))).toEqual([late.id]);
      });
    });

    describe('activity', () => {
      it('records the login IP and user agent when later requests differ', async () => {
        const { session } = await repository.create(newSession(newUserId()));
        clock.advance(MINUTE);
        await repository.touch(session.id, '198.51.100.1', 'Other/1.0');
        await repository.touch(session.id, '198.51.100.2', 'Other/2.0');
        expect(await repository.findById(session.id)).toMatchObject({
          ipAddress: '198.51.100.2',
          userAgent: 'Other/2.0',
          loginIpAddress: '203.0.113.7',
          loginUserAgent: 'Mozilla/5.0',
          lastActivity: session.createdAt + 60,
          idleExpiresAt: session.createdAt + 60 + CONTRACT_POLICY.idleTtl,
        });
      });

      it('keeps the login fields empty while requests come from where the login came from', async () => {
        const { session } = await repository.create(newSession(newUserId()));
        clock.advance(MINUTE);
        await repository.touch(session.id, session.ipAddress, session.userAgent);
        const found = await repository.findById(session.id);
        expect(found?.loginIpAddress).toBeNull();
        expect(found?.loginUserAgent).toBeNull();
        expect(found?.lastActivity).toBe(session.createdAt + 60);
      });

      // A write stored after a later one, or sent by an instance whose clock is behind, carries an
      // earlier time: it must not shorten the life the later activity gave the session.
      it('never moves activity or the idle expiry back for a write carrying an earlier time', async () => {
        const input = newSession(newUserId());
        const { session } = await repository.create(input);
        clock.advance(10 * MINUTE);
        await repository.touch(session.id, session.ipAddress, session.userAgent);
        const expected = {
          lastActivity: session.createdAt + 600,
          idleExpiresAt: session.createdAt + 600 + CONTRACT_POLICY.idleTtl,
        };
        expect(await repository.findById(session.id)).toMatchObject(expected);

        clock.advance(-5 * MINUTE);
        await repository.touch(session.id, '198.51.100.1', 'Other/1.0');
        const rotated = await repository.rotateRefresh(session.id, rotation(input.refreshHash));
        expect(rotated.kind).toBe('rotated');
        clock.advance(5 * MINUTE);
        expect(await repository.findById(session.id)).toMatchObject({
          ...expected,
          // The addresses are still recorded: the rotation came from the login's address again.
          ipAddress: '203.0.113.7',
          loginIpAddress: '203.0.113.7',
          userAgent: 'Mozilla/5.0',
          loginUserAgent: 'Mozilla/5.0',
        });
        // 39 minutes after the login, 29 after the latest activity: alive only by that activity.
        clock.advance(29 * MINUTE);
        expect(await repository.findById(session.id)).toMatchObject(expected);
        clock.advance(MINUTE);
        expect(await repository.findById(session.id)).toBeNull();
      });
    });

    describe('per-user limit', () => {
      it('evicts the least recently active session at the limit', async () => {
        const userId = newUserId();
        const first = (await repository.create(newSession(userId))).session;
        clock.advance(MINUTE);
        const second = (await repository.create(newSession(userId))).session;
        clock.advance(MINUTE);
        const third = (await repository.create(newSession(userId))).session;
        clock.advance(MINUTE);
        await repository.touch(first.id, first.ipAddress, first.userAgent);
        const { session: fourth, evicted } = await repository.create(newSession(userId));
        expect(evicted).toEqual([second]);
        expect(await repository.findById(second.id)).toBeNull();
        expect(ids(await repository.listByUser(userId))).toEqual(
          [first.id, third.id, fourth.id].sort(),
        );
      });

      it('counts each user on their own', async () => {
        const alice = newUserId();
        const bob = newUserId();
        for (let i = 0; i < 3; i++) await repository.create(newSession(alice));
        const { evicted } = await repository.create(newSession(bob));
        expect(evicted).toEqual([]);
        expect(await repository.listByUser(alice)).toHaveLength(3);
        expect(await repository.listByUser(bob)).toHaveLength(1);
      });

      it('rejects at the limit under the reject policy, not counting expired sessions', async () => {
        const strict = await open({ limitPolicy: 'reject' });
        const userId = newUserId();
        for (let i = 0; i < 3; i++) await strict.create(newSession(userId));
        const refused = newSession(userId);
        await expect(strict.create(refused)).rejects.toBeInstanceOf(SessionLimitReachedError);
        expect(await strict.findById(refused.id)).toBeNull();
        expect(await strict.listByUser(userId)).toHaveLength(3);
        clock.advance(31 * MINUTE);
        await expect(strict.create(newSession(userId))).resolves.toMatchObject({ evicted: [] });
        expect(await strict.listByUser(userId)).toHaveLength(1);
      });

      it('does not evict for expired sessions under evict-oldest', async () => {
        const userId = newUserId();
        for (let i = 0; i < 3; i++) await repository.create(newSession(userId));
        clock.advance(31 * MINUTE);
        const { session, evicted } = await repository.create(newSession(userId));
        expect(evicted).toEqual([]);
        expect(ids(await repository.listByUser(userId))).toEqual([session.id]);
      });

      it('leaves exactly 5 live sessions when 20 creates race under evict-oldest', async () => {
        const racing = await open({ maxPerUser: 5 });
        const userId = newUserId();
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, () => racing.create(newSession(userId))),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
        const evicted = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.evicted : []));
        expect(evicted).toHaveLength(15);
        const live = await racing.listByUser(userId);
        expect(live).toHaveLength(5);
        for (const gone of evicted) expect(await racing.findById(gone.id)).toBeNull();
      });

      it('lets exactly 5 of 20 racing creates succeed under reject', async () => {
        const racing = await open({ maxPerUser: 5, limitPolicy: 'reject' });
        const userId = newUserId();
        const attempts = Array.from({ length: 20 }, () => newSession(userId));
        const results = await Promise.allSettled(attempts.map((input) => racing.create(input)));
        const admitted = attempts.filter((_, i) => results[i].status === 'fulfilled');
        expect(admitted).toHaveLength(5);
        for (const result of results) {
          if (result.status === 'rejected')
            expect(result.reason).toBeInstanceOf(SessionLimitReachedError);
        }
        expect(ids(await racing.listByUser(userId))).toEqual(admitted.map((a) => a.id).sort());
      });
    });

    describe('refresh rotation', () => {
      it('rotates, honours the previous credential briefly, and revokes on later reuse', async () => {
        const input = newSession(newUserId());
        const { session } = await repository.create(input);
        const first = rotation(input.refreshHash);
        const rotated = await repository.rotateRefresh(session.id, first);
        expect(rotated).toMatchObject({
          kind: 'rotated',
          session: {
            id: session.id,
            refreshHash: first.nextRefreshHash,
            previousRefreshHash: input.refreshHash,
            fingerprintHash: first.nextFingerprintHash,
            refreshRotatedAt: nowSeconds(),
          },
        });
        expect(await repository.findById(session.id)).toMatchObject({
          refreshHash: first.nextRefreshHash,
          fingerprintHash: first.nextFingerprintHash,
        });

        clock.advance(5 * SECOND);
        const grace = await repository.rotateRefresh(session.id, rotation(input.refreshHash));
        expect(grace).toMatchObject({
          kind: 'grace',
          session: { refreshHash: first.nextRefreshHash },
        });
        expect((await repository.findById(session.id))?.refreshHash).toBe(first.nextRefreshHash);

        expect((await repository.rotateRefresh(session.id, rotation(hash()))).kind).toBe('invalid');
        expect(await repository.findById(session.id)).not.toBeNull();

        clock.advance(6 * SECOND);
        const reused = await repository.rotateRefresh(session.id, rotation(input.refreshHash));
        expect(reused).toMatchObject({ kind: 'reused', session: { id: session.id } });
        expect(await repository.findById(session.id)).toBeNull();
        expect(await repository.listByUser(session.userId)).toEqual([]);
        expect(
          (await repository.rotateRefresh(session.id, rotation(first.nextRefreshHash))).kind,
        ).toBe('invalid');
      });

      it('answers the same rotation sent again as rotated, changing nothing, even after the grace period', async () => {
        // A Redis client resends a script whose answer a dropped connection lost: that resend
        // must not look like a replayed credential (which would revoke the session).
        const input = newSession(newUserId());
        const { session } = await repository.create(input);
        const first = rotation(input.refreshHash);
        await repository.rotateRefresh(session.id, first);
        const stored = await repository.findById(session.id);
        clock.advance(15 * SECOND);
        const again = await repository.rotateRefresh(session.id, first);
        expect(again).toMatchObject({
          kind: 'rotated',
          session: { id: session.id, refreshHash: first.nextRefreshHash },
        });
        expect(await repository.findById(session.id)).toEqual(stored);
        // The old credential with a new secret is still a replay past the grace period.
        const replay = await repository.rotateRefresh(session.id, rotation(input.refreshHash));
        expect(replay.kind).toBe('reused');
        expect(await repository.findById(session.id)).toBeNull();
      });

      it('refuses a repeated rotation whose fingerprint differs, as a credential it never issued', async () => {
        const input = newSession(newUserId());
        const { session } = await repository.create(input);
        const first = rotation(input.refreshHash);
        await repository.rotateRefresh(session.id, first);
        const forged = { ...first, nextFingerprintHash: hash() };
        // Within the grace period the presented credential is the previous one: grace, unchanged.
        expect((await repository.rotateRefresh(session.id, forged)).kind).toBe('grace');
        expect((await repository.findById(session.id))?.fingerprintHash).toBe(
          first.nextFingerprintHash,
        );
      });

      it('slides the idle expiry and records the client on rotation', async () => {
        const input = newSession(newUserId());
        const { session } = await repository.create(input);
        clock.advance(20 * MINUTE);
        await repository.rotateRefresh(
          session.id,
          rotation(input.refreshHash, { ipAddress: '198.51.100.5', userAgent: 'Other/1.0' }),
        );
        clock.advance(20 * MINUTE);
        expect(await repository.findById(session.id)).toMatchObject({
          ipAddress: '198.51.100.5',
          userAgent: 'Other/1.0',
          loginIpAddress: input.ipAddress,
          loginUserAgent: input.userAgent,
          lastActivity: session.createdAt + 20 * 60,
        });
      });

      it('replaces the location when given one, keeps it when not, clears it with null', async () => {
        const location: GeoLocation = { country: 'GB' };
        const input = newSession(newUserId(), { location });
        const { session } = await repository.create(input);
        const keep = rotation(input.refreshHash);
        await repository.rotateRefresh(session.id, keep);
        expect((await repository.findById(session.id))?.location).toEqual(location);

        const moved = rotation(keep.nextRefreshHash, {
          location: { country: 'FR', region: 'Île-de-France', city: 'Paris' },
        });
        await repository.rotateRefresh(session.id, moved);
        expect((await repository.findById(session.id))?.location).toEqual({
          country: 'FR',
          region: 'Île-de-France',
          city: 'Paris',
        });

        await repository.rotateRefresh(
          session.id,
          rotation(moved.nextRefreshHash, { location: null }),
        );
        expect((await repository.findById(session.id))?.location).toBeNull();
      });

      it('answers invalid for unknown, expired and revoked sessions', async () => {
        const userId = newUserId();
        expect((await repository.rotateRefresh(newSessionId(userId), rotation(hash()))).kind).toBe(
          'invalid',
        );
        const expiring = newSession(userId);
        await repository.create(expiring);
        const revoked = newSession(userId);
        await repository.create(revoked);
        await repository.revoke(revoked.id, userId);
        expect(
          (await repository.rotateRefresh(revoked.id, rotation(revoked.refreshHash))).kind,
        ).toBe('invalid');
        clock.advance(31 * MINUTE);
        expect(
          (await repository.rotateRefresh(expiring.id, rotation(expiring.refreshHash))).kind,
        ).toBe('invalid');
      });
    });

    describe('revocation', () => {
      it("revokes only the owner's session", async () => {
        const owner = newUserId();
        const { session } = await repository.create(newSession(owner));
        expect(await repository.revoke(session.id, newUserId())).toBeNull();
        expect(await repository.findById(session.id)).not.toBeNull();
        expect(await repository.revoke(session.id, owner)).toEqual(session);
        expect(await repository.findById(session.id)).toBeNull();
        expect(await repository.listByUser(owner)).toEqual([]);
        expect(await repository.revoke(session.id, owner)).toBeNull();
      });

      it('returns null when revoking an expired session, and it stays gone', async () => {
        const owner = newUserId();
        const { session } = await repository.create(newSession(owner));
        clock.advance(31 * MINUTE);
        expect(await repository.revoke(session.id, owner)).toBeNull();
        expect(await repository.findById(session.id)).toBeNull();
      });

      it("revokes all of a user's live sessions but one", async () => {
        const u = newUserId();
        const v = newUserId();
        const kept = (await repository.create(newSession(u))).session;
        await repository.create(newSession(u));
        await repository.create(newSession(u));
        const other = (await repository.create(newSession(v))).session;
        expect(await repository.revokeAllForUser(u, kept.id)).toBe(2);
        expect(ids(await repository.listByUser(u))).toEqual([kept.id]);
        expect(await repository.findById(other.id)).not.toBeNull();
        expect(await repository.revokeAllForUser(u)).toBe(1);
        expect(await repository.listByUser(u)).toEqual([]);
        expect(await repository.findById(kept.id)).toBeNull();
        expect(await repository.revokeAllForUser(u)).toBe(0);
      });

      it('counts only live sessions when revoking all', async () => {
        const u = newUserId();
        await repository.create(newSession(u));
        clock.advance(20 * MINUTE);
        const fresh = (await repository.create(newSession(u))).session;
        clock.advance(15 * MINUTE);
        expect(await repository.revokeAllForUser(u)).toBe(1);
        expect(await repository.findById(fresh.id)).toBeNull();
      });
    });

    describe('listing', () => {
      it("lists the user's live sessions only", async () => {
        const u = newUserId();
        const stale = (await repository.create(newSession(u))).session;
        clock.advance(20 * MINUTE);
        const a = (await repository.create(newSession(u))).session;
        const b = (await repository.create(newSession(u))).session;
        await repository.create(newSession(newUserId()));
        clock.advance(15 * MINUTE);
        const listed = await repository.listByUser(u);
        expect(ids(listed)).toEqual([a.id, b.id].sort());
        expect(listed.map((s) => s.id)).not.toContain(stale.id);
        expect(await repository.listByUser(newUserId())).toEqual([]);
      });
    });

    describe('stored fields', () => {
      it('returns every field exactly as stored, through create, touch, rotation and listing', async () => {
        const userId = newUserId();
        const input = newSession(userId, {
          ipAddress: '2001:db8::1',
          userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
          location: { country: 'DE', region: 'Bavaria', city: 'Munich' },
        });
        const start = nowSeconds();
        const expected: Session = {
          id: input.id,
          userId,
          fingerprintHash: input.fingerprintHash,
          refreshHash: input.refreshHash,
          previousRefreshHash: null,
          refreshRotatedAt: 0,
          ipAddress: input.ipAddress,
          userAgent: input.userAgent,
          location: { country: 'DE', region: 'Bavaria', city: 'Munich' },
          loginIpAddress: null,
          loginUserAgent: null,
          createdAt: start,
          lastActivity: start,
          idleExpiresAt: start + CONTRACT_POLICY.idleTtl,
          absoluteExpiresAt: start + CONTRACT_POLICY.absoluteTtl,
        };
        const { session } = await repository.create(input);
        expect(plain(session)).toStrictEqual(expected);
        expect(plain(await repository.findById(input.id))).toStrictEqual(expected);

        clock.advance(2 * MINUTE);
        await repository.touch(input.id, '198.51.100.9', 'curl/8.5.0');
        const touched: Session = {
          ...expected,
          ipAddress: '198.51.100.9',
          userAgent: 'curl/8.5.0',
          loginIpAddress: input.ipAddress,
          loginUserAgent: input.userAgent,
          lastActivity: start + 120,
          idleExpiresAt: start + 120 + CONTRACT_POLICY.idleTtl,
        };
        expect(plain(await repository.findById(input.id))).toStrictEqual(touched);

        clock.advance(3 * MINUTE);
        const next = rotation(input.refreshHash, { ipAddress: '198.51.100.9' });
        const outcome = await repository.rotateRefresh(input.id, next);
        const rotated: Session = {
          ...touched,
          refreshHash: next.nextRefreshHash,
          previousRefreshHash: input.refreshHash,
          fingerprintHash: next.nextFingerprintHash,
          refreshRotatedAt: start + 300,
          userAgent: 'Mozilla/5.0',
          lastActivity: start + 300,
          idleExpiresAt: start + 300 + CONTRACT_POLICY.idleTtl,
        };
        expect(outcome.kind).toBe('rotated');
        expect(plain((outcome as { session: Session }).session)).toStrictEqual(rotated);
        expect(plain(await repository.findById(input.id))).toStrictEqual(rotated);
        expect((await repository.listByUser(userId)).map(plain)).toStrictEqual([rotated]);
        expect(plain(await repository.revoke(input.id, userId))).toStrictEqual(rotated);
      });

      it('keeps absent values as null, never as empty strings or missing fields', async () => {
        const { session } = await repository.create(newSession(newUserId(), { location: null }));
        const found = await repository.findById(session.id);
        expect(Object.keys(found ?? {}).sort()).toEqual([...FIELDS]);
        expect(found?.location).toBeNull();
        expect(found?.previousRefreshHash).toBeNull();
        expect(found?.loginIpAddress).toBeNull();
        expect(found?.loginUserAgent).toBeNull();
        expect(found?.refreshRotatedAt).toBe(0);
      });

      it('keeps empty strings as empty strings', async () => {
        const { session } = await repository.create(
          newSession(newUserId(), { ipAddress: '', userAgent: '' }),
        );
        const found = await repository.findById(session.id);
        expect(found?.ipAddress).toBe('');
        expect(found?.userAgent).toBe('');
        await repository.touch(session.id, '', 'Agent/1.0');
        expect(await repository.findById(session.id)).toMatchObject({
          ipAddress: '',
          userAgent: 'Agent/1.0',
          loginIpAddress: null,
          loginUserAgent: '',
        });
      });

      it('stores unicode user agents byte for byte', async () => {
        const agents = [
          'Mozilla/5.0 (Linux; Android 14; 小米 13 Pro) AppleWebKit/537.36 Chrome/120',
          'Agent 🚀🔐 with emoji and a lone combining accent: é (e + U+0301)',
          'Ünïcödé/1.0 — “quotes”, tabs\tand a long tail ' + 'ж'.repeat(300),
          '{"looks":"like json"}',
        ];
        const { session } = await repository.create(
          newSession(newUserId(), { userAgent: agents[0] }),
        );
        expect((await repository.findById(session.id))?.userAgent).toBe(agents[0]);
        for (const agent of agents.slice(1)) {
          await repository.touch(session.id, session.ipAddress, agent);
          expect((await repository.findById(session.id))?.userAgent).toBe(agent);
        }
        expect((await repository.findById(session.id))?.loginUserAgent).toBe(agents[0]);
      });

      it.each<[string, GeoLocation]>([
        ['a country only', { country: 'GB' }],
        ['a country and region', { country: 'US', region: 'California' }],
        ['a country, region and city', { country: 'BR', region: 'São Paulo', city: 'São Paulo' }],
        ['a city without a region', { country: 'CH', city: 'Zürich' }],
      ])('stores and returns a location with %s', async (_label, location) => {
        const userId = newUserId();
        const { session } = await repository.create(newSession(userId, { location }));
        expect((await repository.findById(session.id))?.location).toStrictEqual(location);
        expect((await repository.listByUser(userId))[0].location).toStrictEqual(location);
      });

      it('answers null for an id it never stored', async () => {
        expect(await repository.findById(newSessionId(newUserId()))).toBeNull();
      });

      it('answers in memory, where it can, exactly what findById answers', async () => {
        // Read by id first (a near cache keeps what it read), then asked in memory: undefined
        // (only findById can tell) or the same answer, through every change a session sees.
        const agree = async (id: string) => {
          const stored = await repository.findById(id);
          const inMemory = repository.findInMemory(id);
          if (inMemory !== undefined) expect(inMemory).toStrictEqual(stored);
          return stored;
        };
        const userId = newUserId();
        const { session } = await repository.create(newSession(userId));
        expect(await agree(session.id)).not.toBeNull();
        clock.advance(MINUTE);
        await repository.touch(session.id, '198.51.100.9', 'Another browser');
        expect((await agree(session.id))?.ipAddress).toBe('198.51.100.9');
        await repository.rotateRefresh(session.id, rotation(session.refreshHash));
        expect((await agree(session.id))?.refreshRotatedAt).toBe(nowSeconds());
        await repository.revoke(session.id, userId);
        expect(await agree(session.id)).toBeNull();
        expect(await agree(newSessionId(userId))).toBeNull();

        const idle = (await repository.create(newSession(userId))).session;
        await agree(idle.id);
        clock.advance(CONTRACT_POLICY.idleTtl * SECOND);
        expect(await agree(idle.id)).toBeNull();
      });
    });

    describe('moving sessions (export and import)', () => {
      it('exports every stored session and imports it back with its times and hashes as they were', async () => {
        const userId = newUserId();
        const first = (await repository.create(newSession(userId))).session;
        clock.advance(MINUTE);
        await repository.create(newSession(userId, { location: { country: 'GB', city: 'Leeds' } }));
        clock.advance(MINUTE);
        await repository.touch(first.id, '198.51.100.1', 'Other/1.0');
        await repository.rotateRefresh(first.id, rotation(first.refreshHash));

        // The store may hold other cases' sessions (a shared Redis or database): keep this user's.
        const exported: Session[] = [];
        for await (const session of repository.exportAll()) {
          if (session.userId === userId) exported.push(plain(session) as Session);
        }
        expect(ids(exported)).toEqual(ids(await repository.listByUser(userId)));

        await repository.revokeAllForUser(userId);
        clock.advance(MINUTE);
        for (const session of exported) {
          expect(await repository.importSession(session)).toBe('imported');
        }
        for (const session of exported) {
          expect(plain(await repository.findById(session.id))).toStrictEqual(session);
        }
        // The per-user index came back too: listing and revocation see the imported sessions.
        expect(ids(await repository.listByUser(userId))).toEqual(ids(exported));
        expect(await repository.revokeAllForUser(userId)).toBe(exported.length);
      });

      it('leaves a session it holds already as it is, and skips expired ones', async () => {
        const userId = newUserId();
        const { session } = await repository.create(newSession(userId));
        expect(await repository.importSession({ ...session, userAgent: 'Changed/1.0' })).toBe(
          'exists',
        );
        expect((await repository.findById(session.id))?.userAgent).toBe('Mozilla/5.0');

        const now = nowSeconds();
        const expired: Session = {
          ...session,
          id: newSessionId(userId),
          idleExpiresAt: now,
          absoluteExpiresAt: now + 3600,
        };
        expect(await repository.importSession(expired)).toBe('expired');
        expect(await repository.findById(expired.id)).toBeNull();
        expect(ids(await repository.listByUser(userId))).toEqual([session.id]);
      });
    });

    describe('stats', () => {
      if (traits.boundedCapacity) {
        it('counts stored and expired sessions against the capacity', async () => {
          const userId = newUserId();
          await repository.create(newSession(userId));
          clock.advance(20 * MINUTE);
          await repository.create(newSession(userId));
          clock.advance(15 * MINUTE);
          const stats = await repository.stats();
          expect(stats.capacity).toBe(CAPACITY);
          expect(stats.stored).toBe(2);
          expect(stats.expired).toBe(1);
          expect(stats.estimatedBytes).toBeGreaterThan(0);
        });
      } else {
        it('reports no fixed capacity and only counts it can stand behind', async () => {
          await repository.create(newSession(newUserId()));
          const stats = await repository.stats();
          expect(stats.capacity).toBeNull();
          expect(stats.estimatedBytes).toBeNull();
          for (const count of [stats.stored, stats.expired]) {
            if (count !== null) expect(count).toBeGreaterThanOrEqual(0);
          }
        });
      }
    });
  });
}

/** A session's own fields as a plain object, so `toStrictEqual` compares values, not classes. */
function plain(session: Session | null): Session | null {
  return session === null ? null : { ...session };
}
