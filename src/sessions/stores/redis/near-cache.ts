import { performance } from 'node:perf_hooks';
import { Clock } from '../../../common/clock';
import { CacheLookups } from '../../../observability/metrics';
import type {
  InvalidationListener,
  Invalidations,
  InvalidationTopic,
} from '../../../redis/invalidation-channel';
import { isLive, NewSession, Session, toSeconds } from '../../session';
import {
  CreateSessionResult,
  ImportOutcome,
  RefreshOutcome,
  RefreshRotation,
  SessionRepository,
  SessionStoreStats,
  SweepResult,
} from '../../session.repository';

/** Sessions one instance keeps at most; the longest-held go first beyond this. */
export const SESSION_NEAR_CACHE_SIZE = 10_000;
/**
 * How long a kept session is used before Redis is asked again (ms), whatever the channel says:
 * the backstop for what no message can cover (an instance that stored a change and died before
 * announcing it).
 */
export const SESSION_NEAR_CACHE_TTL_MS = 5_000;

interface Entry {
  readonly session: Session;
  /** performance.now() past which it is read again. */
  readonly until: number;
}

type Change = readonly [InvalidationTopic, string];

/**
 * The Redis store with the sessions this instance validated recently kept in memory, so a guarded
 * request usually costs no round trip. Only lookups by id are served here; every write goes to
 * Redis, and every write that ends or changes a session is announced on the invalidation channel
 * once stored, which drops the session here at once and on every other instance within the
 * channel's lease (see `InvalidationChannel`).
 *
 * Fails closed: while the channel is not `trusted()` (not subscribed, reconnecting, or silent for
 * longer than its lease) every lookup goes to Redis and nothing is kept, and whatever was kept is
 * dropped when the subscription ends and again when it is back. Each use checks the kept
 * session's idle and absolute expiry against the clock; the kept times can only be earlier than
 * Redis's (activity only moves the idle expiry later), so a kept session never outlives the
 * stored one, and one that looks expired here is read again. Activity writes go on as the caller
 * decides; after one, the session is read again, so the next decision sees the time written.
 */
export class NearCachedSessionRepository extends SessionRepository implements InvalidationListener {
  readonly durable: boolean;
  /** Insertion order is age order: the first entry is the one to go. */
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();

  constructor(
    private readonly store: SessionRepository,
    private readonly channel: Invalidations,
    private readonly clock: Clock,
    private readonly lookups: CacheLookups,
    private readonly capacity = SESSION_NEAR_CACHE_SIZE,
    private readonly ttlMs = SESSION_NEAR_CACHE_TTL_MS,
  ) {
    super();
    this.durable = store.durable;
    channel.listen(this);
  }

  async findById(id: string): Promise<Session | null> {
    if (!this.channel.trusted()) {
      this.lookups.bypasses++;
      return this.store.findById(id);
    }
    const asked = performance.now();
    const kept = this.kept(id, asked);
    if (kept !== undefined) return kept;
    this.lookups.misses++;
    const generation = this.channel.generation();
    const session = await this.store.findById(id);
    if (session !== null && this.channel.trusted() && this.channel.generation() === generation) {
      this.keep(session, asked + this.ttlMs);
    }
    return session;
  }

  /** A hit while the channel is trusted; undefined otherwise (`findById` then asks Redis). */
  override findInMemory(id: string): Session | undefined {
    return this.channel.trusted() ? this.kept(id, performance.now()) : undefined;
  }

  /** The kept session, counted as a hit, when it is still fresh and live; a stale one is dropped. */
  private kept(id: string, asked: number): Session | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (asked < entry.until && isLive(entry.session, toSeconds(this.clock.now()))) {
      this.lookups.hits++;
      return entry.session;
    }
    this.drop(id);
    return undefined;
  }

  async create(input: NewSession): Promise<CreateSessionResult> {
    return this.announcing(this.store.create(input), (result) =>
      result === null
        ? // Failed or timed out: it may still run, and evict some of the user's sessions.
          [['user-sessions', input.userId]]
        : result.evicted.map((session) => ['session', session.id] as const),
    );
  }

  listByUser(userId: string): Promise<Session[]> {
    return this.store.listByUser(userId);
  }

  /** Not announced: elsewhere, a kept copy's times are only earlier than the stored ones. */
  async touch(id: string, ipAddress: string, userAgent: string): Promise<void> {
    this.drop(id);
    try {
      await this.store.touch(id, ipAddress, userAgent);
    } finally {
      // Read meanwhile, it may hold the time before this write.
      this.drop(id);
    }
  }

  rotateRefresh(id: string, rotation: RefreshRotation): Promise<RefreshOutcome> {
    return this.announcing(this.store.rotateRefresh(id, rotation), (outcome) =>
      outcome?.kind === 'invalid' ? [] : [['session', id]],
    );
  }

  revoke(id: string, userId: string): Promise<Session | null> {
    return this.announcing(this.store.revoke(id, userId), () => [['session', id]]);
  }

  revokeAllForUser(userId: string, exceptId?: string): Promise<number> {
    return this.announcing(this.store.revokeAllForUser(userId, exceptId), () => [
      ['user-sessions', userId],
    ]);
  }

  deleteExpired(max: number): Promise<SweepResult> {
    return this.store.deleteExpired(max);
  }

  stats(): Promise<SessionStoreStats> {
    return this.store.stats();
  }

  exportAll(): AsyncIterable<Session> {
    return this.store.exportAll();
  }

  /** Not announced: an import only adds sessions, never changes one that is stored. */
  importSession(session: Session): Promise<ImportOutcome> {
    return this.store.importSession(session);
  }

  invalidate(topic: InvalidationTopic, id: string): void {
    if (topic === 'session') this.drop(id);
    else if (topic === 'user-sessions') {
      for (const sessionId of this.byUser.get(id) ?? []) this.drop(sessionId);
    }
  }

  reset(): void {
    this.entries.clear();
    this.byUser.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs a write, then announces what it changed (`changes` of its result, or of null when it
   * failed: a write that timed out may still be applied). A write whose announcement fails
   * fails too (StoreUnavailableError), though it was stored: the caller must not answer as if
   * every instance had seen it.
   */
  private async announcing<T>(
    write: Promise<T>,
    changes: (result: T | null) => Change[],
  ): Promise<T> {
    let result: T;
    try {
      result = await write;
    } catch (error) {
      await this.announce(changes(null)).catch(() => undefined);
      throw error;
    }
    await this.announce(changes(result));
    return result;
  }

  private async announce(changes: Change[]): Promise<void> {
    await Promise.all(changes.map(([topic, id]) => this.channel.announce(topic, id)));
  }

  private keep(session: Session, until: number): void {
    this.drop(session.id);
    this.dropLapsed(until - this.ttlMs);
    if (this.entries.size >= this.capacity) {
      this.drop(this.entries.keys().next().value as string);
    }
    this.entries.set(session.id, { session, until });
    let ids = this.byUser.get(session.userId);
    if (ids === undefined) {
      ids = new Set();
      this.byUser.set(session.userId, ids);
    }
    ids.add(session.id);
  }

  /**
   * Drops the oldest entries whose time is up by `now`: a session nobody asks for again (its
   * browser closed, left to expire) goes within a TTL instead of staying until the capacity
   * pushes it out, so the cache holds what was used in the last TTL, not always its capacity.
   * Insertion order is nearly `until` order (a slow read may land behind a quicker, later one),
   * so this stops at the first entry still good: cheap, and the rest go on a later call.
   */
  private dropLapsed(now: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.until > now) return;
      this.drop(id);
    }
  }

  private drop(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    this.entries.delete(id);
    const ids = this.byUser.get(entry.session.userId);
    ids?.delete(id);
    if (ids?.size === 0) this.byUser.delete(entry.session.userId);
  }
}
