import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import { AuditEvent, AuditEventType } from '../../src/audit/audit-event';
import { AuditEventRepository } from '../../src/audit/audit-event.repository';

export interface AuditEventRepositoryUnderTest {
  readonly repository: AuditEventRepository;
  close(): Promise<void>;
}

const nextId = monotonicFactory();
const newUserId = (): string => `user-${randomBytes(8).toString('hex')}`;

function event(userId: string, at: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: nextId(at),
    at,
    userId,
    type: 'login',
    sessionId: `session-${randomBytes(4).toString('hex')}`,
    actorSessionId: null,
    ipAddress: '203.0.113.7',
    userAgent: 'Mozilla/5.0',
    location: null,
    detail: null,
    ...overrides,
  };
}

/**
 * The behaviour every `AuditEventRepository` adapter must show. Stores may be shared between
 * cases (one database): every case uses users of its own, and times far from the others'.
 */
export function auditEventRepositoryContract(
  name: string,
  open: () => Promise<AuditEventRepositoryUnderTest>,
): void {
  describe(`${name} (AuditEventRepository contract)`, () => {
    let made: AuditEventRepositoryUnderTest;
    let repository: AuditEventRepository;
    const start = Date.UTC(2026, 0, 1);

    beforeEach(async () => {
      made = await open();
      repository = made.repository;
    });

    afterEach(async () => made.close());

    it('lists a user its own events newest first, every field as stored', async () => {
      const userId = newUserId();
      const other = newUserId();
      const types: AuditEventType[] = [
        'login',
        'refresh',
        'session_revoked',
        'logout_all',
        'alert',
      ];
      const events = types.map((type, i) =>
        event(userId, start + i * 1000, {
          type,
          actorSessionId: type === 'session_revoked' ? 'actor-1' : null,
          location: i === 1 ? { country: 'GB', region: 'England', city: 'Leeds' } : null,
          detail:
            type === 'alert'
              ? { code: 'NEW_COUNTRY' }
              : type === 'logout_all'
                ? { count: 3 }
                : null,
          userAgent: i === 2 ? 'Ünïcode/1.0 ☃' : 'Mozilla/5.0',
          ipAddress: i === 3 ? null : '2001:db8::1',
        }),
      );
      await repository.append([...events, event(other, start + 500)]);
      expect(await repository.listByUser(userId, 100)).toStrictEqual([...events].reverse());
      expect((await repository.listByUser(other, 100)).map((e) => e.userId)).toEqual([other]);
    });

    it('pages through a cursor: limit, then the events older than the last one seen', async () => {
      const userId = newUserId();
      // Several in one millisecond: the ids still order them as they were recorded.
      const events = Array.from({ length: 7 }, (_, i) => event(userId, start + Math.floor(i / 3)));
      await repository.append(events);
      const first = await repository.listByUser(userId, 3);
      const second = await repository.listByUser(userId, 3, first[2].id);
      const third = await repository.listByUser(userId, 3, second[2].id);
      expect([...first, ...second, ...third].map((e) => e.id)).toEqual(
        events.map((e) => e.id).reverse(),
      );
      expect(third).toHaveLength(1);
      expect(await repository.listByUser(userId, 3, third[0].id)).toEqual([]);
    });

    it('stores a batch it was given twice only once (a retried write)', async () => {
      const userId = newUserId();
      const batch = [event(userId, start), event(userId, start + 1)];
      await repository.append(batch);
      await repository.append([...batch, event(userId, start + 2)]);
      expect(await repository.listByUser(userId, 100)).toHaveLength(3);
    });

    it('writes a large batch whole', async () => {
      const userId = newUserId();
      const batch = Array.from({ length: 1200 }, (_, i) => event(userId, start + i));
      await repository.append(batch);
      let seen = 0;
      let before: string | undefined;
      for (;;) {
        const page = await repository.listByUser(userId, 100, before);
        seen += page.length;
        if (page.length < 100) break;
        before = page[page.length - 1].id;
      }
      expect(seen).toBe(1200);
    });

    it('deletes events older than the cutoff in bounded batches, oldest first, and keeps the rest', async () => {
      const userId = newUserId();
      // Far in the past, so other cases' events (at `start`) are not before this cutoff.
      const old = Date.UTC(2000, 0, 1);
      await repository.append([
        ...Array.from({ length: 25 }, (_, i) => event(userId, old + i)),
        event(userId, old + 10_000, { type: 'logout' }),
      ]);
      const batches: number[] = [];
      for (let more = true; more && batches.length < 20;) {
        const result = await repository.deleteOlderThan(old + 5000, 10);
        expect(result.removed).toBeLessThanOrEqual(10);
        batches.push(result.removed);
        more = result.more;
      }
      expect(batches.slice(0, 2)).toEqual([10, 10]);
      expect(batches.reduce((sum, n) => sum + n, 0)).toBe(25);
      expect((await repository.listByUser(userId, 100)).map((e) => e.type)).toEqual(['logout']);
    });

    it("deletes one user's events and nobody else's", async () => {
      const [gone, kept] = [newUserId(), newUserId()];
      await repository.append([event(gone, start), event(gone, start + 1), event(kept, start + 2)]);
      expect(await repository.deleteForUser(gone)).toBe(2);
      expect(await repository.listByUser(gone, 10)).toEqual([]);
      expect(await repository.listByUser(kept, 10)).toHaveLength(1);
    });
  });
}
