import { FakeClock } from '../../../common/clock';
import { StoreUnavailableError } from '../../../common/errors';
import { CacheLookups } from '../../../observability/metrics';
import type {
  InvalidationListener,
  Invalidations,
  InvalidationTopic,
} from '../../../redis/invalidation-channel';
import { NewSession, SessionPolicy } from '../../session';
import { SessionStoreFullError } from '../../session.errors';
import { newSessionId } from '../../session-id';
import { InMemorySessionRepository } from '../memory/in-memory-session.repository';
import { NearCachedSessionRepository } from './near-cache';

const policy: SessionPolicy = {
  idleTtl: 1800,
  absoluteTtl: 28_800,
  maxPerUser: 2,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

/**
 * The channel as the cache sees it, driven by the test: whether it is trusted, what is
 * announced (delivered here at once, as the real channel does), and messages from "other
 * instances" (`receive`). test/near-cache.contract-spec.ts runs the cache on the real one.
 */
class ScriptedChannel implements Invalidations {
  isTrusted = true;
  failPublish = false;
  readonly announced: string[] = [];
  private readonly listeners: InvalidationListener[] = [];
  private changes = 0;

  listen(listener: InvalidationListener): void {
    this.listeners.push(listener);
  }

  trusted(): boolean {
    return this.isTrusted;
  }

  generation(): number {
    return this.changes;
  }

  async announce(topic: InvalidationTopic, id: string): Promise<void> {
    this.receive(topic, id);
    if (this.failPublish) throw new StoreUnavailableError('sessions');
    this.announced.push(`${topic} ${id}`);
  }

  receive(topic: InvalidationTopic, id: string): void {
    this.changes++;
    for (const listener of this.listeners) listener.invalidate(topic, id);
  }

  resetAll(): void {
    this.changes++;
    for (const listener of this.listeners) listener.reset();
  }
}

let sequence = 0;
const newUser = () => `user-${++sequence}`;
const newSession = (userId: string): NewSession => ({
  id: newSessionId(userId),
  userId,
  fingerprintHash: 'f'.repeat(43),
  refreshHash: `${sequence}`.padEnd(43, 'r'),
  ipAddress: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  location: null,
});

function setUp(options: { capacity?: number; ttlMs?: number; storeCapacity?: number } = {}) {
  const clock = new FakeClock();
  const store = new InMemorySessionRepository(policy, options.storeCapacity ?? 1000, clock);
  const channel = new ScriptedChannel();
  const lookups = new CacheLookups();
  const cache = new NearCachedSessionRepository(
    store,
    channel,
    clock,
    lookups,
    options.capacity,
    options.ttlMs,
  );
  const counts = () => ({ ...lookups });
  return { clock, store, channel, cache, counts };
}

describe('NearCachedSessionRepository', () => {
  it('answers a session it read a moment ago without asking the store again', async () => {
    const { store, cache, counts } = setUp();
    const input = newSession(newUser());
    await store.create(input);
    const first = await cache.findById(input.id);
    expect(first?.userId).toBe(input.userId);
    expect(await cache.findById(input.id)).toBe(first);
    expect(counts()).toEqual({ hits: 1, misses: 1, bypasses: 0 });
  });

  it('answers in memory only what it keeps, and only while the channel is trusted', async () => {
    const { clock, store, channel, cache, counts } = setUp();
    const input = newSession(newUser());
    await store.create(input);
    // Not read yet: only findById can tell (the store is not asked for it here).
    expect(cache.findInMemory(input.id)).toBeUndefined();
    const read = await cache.findById(input.id);
    expect(cache.findInMemory(input.id)).toBe(read);
    expect(counts()).toEqual({ hits: 1, misses: 1, bypasses: 0 });

    channel.isTrusted = false;
    expect(cache.findInMemory(input.id)).toBeUndefined();
    channel.isTrusted = true;
    channel.receive('session', input.id);
    expect(cache.findInMemory(input.id)).toBeUndefined();

    // A kept copy past its idle expiry is never answered, and is let go.
    await cache.findById(input.id);
    clock.advance(policy.idleTtl * 1000);
    expect(cache.findInMemory(input.id)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps nothing and asks the store every time while the channel is not trusted', async () => {
    const { store, channel, cache, counts } = setUp();
    const input = newSession(newUser());
    await store.create(input);
    channel.isTrusted = false;
    await cache.findById(input.id);
    await cache.findById(input.id);
    expect(counts()).toEqual({ hits: 0, misses: 0, bypasses: 2 });
    expect(cache.size).toBe(0);
    // A session revoked meanwhile (no message can say so) is refused at once.
    await store.revoke(input.id, input.userId);
    expect(await cache.findById(input.id)).toBeNull();

    channel.isTrusted = true;
    const other = newSession(newUser());
    await store.create(other);
    await cache.findById(other.id);
    await cache.findById(other.id);
    expect(counts()).toEqual({ hits: 1, misses: 1, bypasses: 3 });
  });

  it('never answers a kept session past its idle or absolute expiry', async () => {
    const { clock, store, cache } = setUp();
    const input = newSession(newUser());
    await store.create(input);
    expect(await cache.findById(input.id)).not.toBeNull();
    clock.advance(policy.idleTtl * 1000);
    expect(await cache.findById(input.id)).toBeNull();

    // Activity (stored elsewhere) slid the idle expiry: a copy that looks expired is read again.
    const active = newSession(newUser());
    await store.create(active);
    expect(await cache.findById(active.id)).not.toBeNull();
    clock.advance((policy.idleTtl - 60) * 1000);
    await store.touch(active.id, active.ipAddress, active.userAgent);
    clock.advance(120_000);
    expect((await cache.findById(active.id))?.lastActivity).toBe(
      Math.floor(clock.now() / 1000) - 120,
    );
  });

  it('asks the store again once a kept session is older than the age limit', async () => {
    const { store, cache, counts } = setUp({ ttlMs: 0 });
    const input = newSession(newUser());
    await store.create(input);
    await cache.findById(input.id);
    await cache.findById(input.id);
    expect(counts()).toEqual({ hits: 0, misses: 2, bypasses: 0 });
  });

  it('drops what a message names: a session, every session of a user, or everything on a reset', async () => {
    const { store, channel, cache, counts } = setUp();
    const user = newUser();
    const [one, two] = [newSession(user), newSession(user)];
    const stranger = newSession(newUser());
    for (const input of [one, two, stranger]) {
      await store.create(input);
      await cache.findById(input.id);
    }
    channel.receive('session', one.id);
    expect(cache.size).toBe(2);
    channel.receive('user-sessions', user);
    expect(cache.size).toBe(1);
    channel.receive('user', stranger.userId);
    expect(cache.size).toBe(1);
    channel.resetAll();
    expect(cache.size).toBe(0);
    await cache.findById(stranger.id);
    expect(counts().misses).toBe(4);
  });

  it('does not keep a read that a message overtook', async () => {
    const { store, channel, cache, counts } = setUp();
    const input = newSession(newUser());
    await store.create(input);
    const read = cache.findById(input.id);
    // Another instance revokes it while the read is on its way back.
    channel.receive('session', input.id);
    expect(await read).not.toBeNull();
    await cache.findById(input.id);
    expect(counts()).toEqual({ hits: 0, misses: 2, bypasses: 0 });
  });

  it('holds at most its capacity, the longest-held going first', async () => {
    const { store, cache, counts } = setUp({ capacity: 2 });
    const inputs = [newSession(newUser()), newSession(newUser()), newSession(newUser())];
    for (const input of inputs) {
      await store.create(input);
      await cache.findById(input.id);
    }
    expect(cache.size).toBe(2);
    await cache.findById(inputs[2].id);
    await cache.findById(inputs[0].id);
    expect(counts()).toEqual({ hits: 1, misses: 4, bypasses: 0 });
  });

  it('lets go of sessions nobody asked for within the age limit, well before its capacity is reached', async () => {
    const { store, cache, counts } = setUp({ ttlMs: 200 });
    const abandoned = [newSession(newUser()), newSession(newUser())];
    for (const input of abandoned) {
      await store.create(input);
      await cache.findById(input.id);
    }
    expect(cache.size).toBe(2);
    // Past the age limit (real time: the limit is measured by performance.now()).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const used = newSession(newUser());
    await store.create(used);
    await cache.findById(used.id);
    // Keeping the new one let the two lapsed ones go: the cache holds what is in use.
    expect(cache.size).toBe(1);
    expect(counts()).toEqual({ hits: 0, misses: 3, bypasses: 0 });
  });

  it('announces every write that ends or changes a session, and drops it here at once', async () => {
    const { cache, channel } = setUp();
    const user = newUser();
    const [first, second, third] = [newSession(user), newSession(user), newSession(user)];
    await cache.create(first);
    await cache.create(second);
    await cache.findById(first.id);
    // At the limit of 2: the login evicts the least recently active session.
    const { evicted } = await cache.create(third);
    expect(evicted.map((s) => s.id)).toEqual([first.id]);
    expect(cache.size).toBe(0);

    await cache.findById(second.id);
    expect(
      await cache.rotateRefresh(second.id, {
        presentedHash: second.refreshHash,
        nextRefreshHash: 'n'.repeat(43),
        nextFingerprintHash: 'g'.repeat(43),
        ipAddress: second.ipAddress,
        userAgent: second.userAgent,
      }),
    ).toMatchObject({ kind: 'rotated' });
    expect(cache.size).toBe(0);
    expect((await cache.findById(second.id))?.fingerprintHash).toBe('g'.repeat(43));
    // A credential the session never issued changes nothing: nothing to announce.
    await cache.rotateRefresh(second.id, {
      presentedHash: 'x'.repeat(43),
      nextRefreshHash: 'n'.repeat(43),
      nextFingerprintHash: 'g'.repeat(43),
      ipAddress: second.ipAddress,
      userAgent: second.userAgent,
    });
    expect(cache.size).toBe(1);

    await cache.revoke(second.id, user);
    expect(await cache.findById(second.id)).toBeNull();
    await cache.findById(third.id);
    await cache.revokeAllForUser(user);
    expect(cache.size).toBe(0);

    expect(channel.announced).toEqual([
      `session ${first.id}`,
      `session ${second.id}`,
      `session ${second.id}`,
      `user-sessions ${user}`,
    ]);
  });

  it('fails a write whose announcement could not be sent, though the write was stored', async () => {
    const { store, cache, channel } = setUp();
    const input = newSession(newUser());
    await store.create(input);
    channel.failPublish = true;
    await expect(cache.revoke(input.id, input.userId)).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    expect(await store.findById(input.id)).toBeNull();
  });

  it('announces the user after a login that failed (in Redis, one that timed out may still evict)', async () => {
    const { cache, channel } = setUp({ storeCapacity: 1 });
    await cache.create(newSession(newUser()));
    const input = newSession(newUser());
    await expect(cache.create(input)).rejects.toBeInstanceOf(SessionStoreFullError);
    expect(channel.announced).toEqual([`user-sessions ${input.userId}`]);
  });

  it('reads a session again after an activity write, so the next decision sees its time', async () => {
    const { clock, cache, store } = setUp();
    const input = newSession(newUser());
    await store.create(input);
    await cache.findById(input.id);
    clock.advance(90_000);
    await cache.touch(input.id, '198.51.100.1', input.userAgent);
    expect(await cache.findById(input.id)).toMatchObject({
      lastActivity: Math.floor(clock.now() / 1000),
      ipAddress: '198.51.100.1',
    });
  });
});
