import { Clock } from '../../../common/clock';
import type { GeoLocation } from '../../../geoip/geo-location';
import { activityAt, isLive, NewSession, Session, SessionPolicy, toSeconds } from '../../session';
import { SessionLimitReachedError, SessionStoreFullError } from '../../session.errors';
import {
  CreateSessionResult,
  ImportOutcome,
  RefreshOutcome,
  RefreshRotation,
  SessionRepository,
  SessionStoreStats,
  SweepResult,
  isRepeatedRotation,
} from '../../session.repository';

/** Width of one expiry bucket, in seconds. Sessions are swept at most this late. */
const BUCKET_SECONDS = 10;
/** Distinct IP addresses and user agents kept for sharing between records before the pool restarts. */
const INTERN_POOL_LIMIT = 50_000;
/** Heap bytes per stored session, as measured by `bench/session-store.bench.ts` (1,000,000
 *  sessions, 10 per user; a session whose refresh credential has rotated takes ~30 more). */
export const ESTIMATED_BYTES_PER_SESSION = 292;

/**
 * The hashes a session holds: fingerprint, refresh and (after a rotation) the previous refresh
 * hash. The service writes canonical base64url SHA-256 values (43 characters for 32 bytes); those
 * are kept as their raw bytes, one after the other, in a single Latin-1 string: 80 heap bytes for
 * two hashes instead of 2 x 64 in two fields. Anything else (tests write short placeholders) is
 * kept as given.
 */
type Hashes =
  | string
  | readonly [fingerprintHash: string, refreshHash: string, previousRefreshHash: string | null];

/** 43 base64url characters that decode to exactly 32 bytes (the last carries 4 bits, low 2 zero). */
const CANONICAL_SHA256 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const HASH_BYTES = 32;

function packHashes(
  fingerprintHash: string,
  refreshHash: string,
  previousRefreshHash: string | null,
): Hashes {
  const values =
    previousRefreshHash === null
      ? [fingerprintHash, refreshHash]
      : [fingerprintHash, refreshHash, previousRefreshHash];
  if (!values.every((value) => CANONICAL_SHA256.test(value))) {
    return [fingerprintHash, refreshHash, previousRefreshHash];
  }
  const bytes = Buffer.allocUnsafe(values.length * HASH_BYTES);
  values.forEach((value, i) => bytes.write(value, i * HASH_BYTES, HASH_BYTES, 'base64url'));
  return bytes.toString('latin1');
}

/** The three hashes as text (the previous refresh hash null when there is none). */
function unpackHashes(hashes: Hashes): [string, string, string | null] {
  if (typeof hashes !== 'string') return [hashes[0], hashes[1], hashes[2]];
  const bytes = Buffer.from(hashes, 'latin1');
  const text = (i: number) => bytes.toString('base64url', i * HASH_BYTES, (i + 1) * HASH_BYTES);
  return [text(0), text(1), bytes.length > 2 * HASH_BYTES ? text(2) : null];
}

/** Where a session logged in from, kept only once a later request comes from elsewhere. */
class LoginClient {
  constructor(
    public loginIpAddress: string | null,
    public loginUserAgent: string | null,
  ) {}
}

/**
 * One stored session. A class with every field set in the constructor, so all records share one
 * hidden class; times are small integers (seconds), so V8 keeps them unboxed. The hashes are
 * packed (see `Hashes`) and the rarely set login client is out of line: that keeps a million
 * records under 300 bytes each (bench/session-store.bench.ts has the
 * breakdown). Records never leave the repository: callers get plain copies (`toSession()`),
 * with every field their own, as from any other store.
 */
class SessionRecord {
  constructor(
    readonly id: string,
    readonly userId: string,
    public hashes: Hashes,
    public ipAddress: string,
    public userAgent: string,
    public location: GeoLocation | null,
    readonly createdAt: number,
    public lastActivity: number,
    public idleExpiresAt: number,
    readonly absoluteExpiresAt: number,
    public refreshRotatedAt: number,
    public login: LoginClient | null,
  ) {}

  /** A plain copy: what callers get, never the stored record itself. */
  toSession(): Session {
    const [fingerprintHash, refreshHash, previousRefreshHash] = unpackHashes(this.hashes);
    return {
      id: this.id,
      userId: this.userId,
      fingerprintHash,
      refreshHash,
      previousRefreshHash,
      refreshRotatedAt: this.refreshRotatedAt,
      ipAddress: this.ipAddress,
      userAgent: this.userAgent,
      location: this.location,
      loginIpAddress: this.login?.loginIpAddress ?? null,
      loginUserAgent: this.login?.loginUserAgent ?? null,
      createdAt: this.createdAt,
      lastActivity: this.lastActivity,
      idleExpiresAt: this.idleExpiresAt,
      absoluteExpiresAt: this.absoluteExpiresAt,
    };
  }
}

/** Shares equal strings between records (many sessions come from the same few user agents). */
class InternPool {
  private readonly pool = new Map<string, string>();

  intern(value: string): string {
    const known = this.pool.get(value);
    if (known !== undefined) return known;
    if (this.pool.size >= INTERN_POOL_LIMIT) this.pool.clear();
    this.pool.set(value, value);
    return value;
  }
}

/**
 * Sessions in this process's memory: the embedded default.
 *
 * - `sessions`: id → record.
 * - `byUser`: user id → ids of that user's sessions (a short array; pruned of dead ids on use).
 * - `buckets`: an expiry index of ids by `floor(expiresAt / BUCKET_SECONDS)`. A session sits in
 *   exactly one bucket; when its idle expiry slides it is not moved: the sweep re-files it when
 *   its old bucket comes due. So a request never pays for index upkeep, and the sweep visits
 *   only sessions whose bucket has passed, never the whole store.
 *
 * Every method runs synchronously to completion, so each is atomic under Node's single thread.
 */
export class InMemorySessionRepository extends SessionRepository {
  readonly durable = false;
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly byUser = new Map<string, string[]>();
  private readonly buckets = new Map<number, string[]>();
  private readonly strings = new InternPool();
  /** Next bucket the sweep reads, and how far into it. */
  private sweepBucket: number;
  private sweepIndex = 0;

  constructor(
    private readonly policy: SessionPolicy,
    private readonly capacity: number,
    private readonly clock: Clock,
  ) {
    super();
    this.sweepBucket = Math.floor(toSeconds(clock.now()) / BUCKET_SECONDS);
  }

  async create(input: NewSession): Promise<CreateSessionResult> {
    const now = toSeconds(this.clock.now());
    const { maxPerUser, limitPolicy } = this.policy;
    const live = this.liveIdsOf(input.userId, now);

    const evicted: Session[] = [];
    if (live.length >= maxPerUser) {
      if (limitPolicy === 'reject') throw new SessionLimitReachedError(maxPerUser);
      const records = live.map((id) => this.sessions.get(id) as SessionRecord);
      records.sort((a, b) => a.lastActivity - b.lastActivity || a.createdAt - b.createdAt);
      for (const record of records.slice(0, live.length - maxPerUser + 1)) {
        this.remove(record);
        evicted.push(record.toSession());
      }
    }

    if (this.sessions.size >= this.capacity) {
      this.sweepAllDue(now);
      if (this.sessions.size >= this.capacity) {
        throw new SessionStoreFullError();
      }
    }

    const absoluteExpiresAt = now + this.policy.absoluteTtl;
    const record = new SessionRecord(
      input.id,
      this.userKey(input.userId),
      packHashes(input.fingerprintHash, input.refreshHash, null),
      this.strings.intern(input.ipAddress),
      this.strings.intern(input.userAgent),
      input.location,
      now,
      now,
      Math.min(now + this.policy.idleTtl, absoluteExpiresAt),
      absoluteExpiresAt,
      0,
      null,
    );
    this.insert(record);
    return { session: record.toSession(), evicted };
  }

  async findById(id: string): Promise<Session | null> {
    return this.findInMemory(id);
  }

  override findInMemory(id: string): Session | null {
    return this.findLive(id, toSeconds(this.clock.now()))?.toSession() ?? null;
  }

  async listByUser(userId: string): Promise<Session[]> {
    const now = toSeconds(this.clock.now());
    return this.liveIdsOf(userId, now).map((id) =>
      (this.sessions.get(id) as SessionRecord).toSession(),
    );
  }

  async touch(id: string, ipAddress: string, userAgent: string): Promise<void> {
    const now = toSeconds(this.clock.now());
    const record = this.findLive(id, now);
    if (!record) return;
    this.recordActivity(record, now, ipAddress, userAgent);
  }

  async rotateRefresh(id: string, rotation: RefreshRotation): Promise<RefreshOutcome> {
    const now = toSeconds(this.clock.now());
    const record = this.findLive(id, now);
    if (!record) return { kind: 'invalid' };

    const [fingerprintHash, refreshHash, previousRefreshHash] = unpackHashes(record.hashes);
    if (isRepeatedRotation(rotation, fingerprintHash, refreshHash, previousRefreshHash)) {
      return { kind: 'rotated', session: record.toSession() };
    }
    if (refreshHash === rotation.presentedHash) {
      record.hashes = packHashes(
        rotation.nextFingerprintHash,
        rotation.nextRefreshHash,
        refreshHash,
      );
      record.refreshRotatedAt = now;
      if (rotation.location !== undefined) record.location = rotation.location;
      this.recordActivity(record, now, rotation.ipAddress, rotation.userAgent);
      return { kind: 'rotated', session: record.toSession() };
    }
    if (previousRefreshHash !== null && previousRefreshHash === rotation.presentedHash) {
      if (now - record.refreshRotatedAt <= this.policy.refreshGracePeriod) {
        return { kind: 'grace', session: record.toSession() };
      }
      this.remove(record);
      return { kind: 'reused', session: record.toSession() };
    }
    return { kind: 'invalid' };
  }

  async revoke(id: string, userId: string): Promise<Session | null> {
    const record = this.sessions.get(id);
    if (!record || record.userId !== userId) return null;
    this.remove(record);
    return isLive(record, toSeconds(this.clock.now())) ? record.toSession() : null;
  }

  async revokeAllForUser(userId: string, exceptId?: string): Promise<number> {
    const now = toSeconds(this.clock.now());
    let removed = 0;
    for (const id of [...(this.byUser.get(userId) ?? [])]) {
      if (id === exceptId) continue;
      const record = this.sessions.get(id);
      if (!record) continue;
      if (isLive(record, now)) removed++;
      this.remove(record);
    }
    return removed;
  }

  async deleteExpired(max: number): Promise<SweepResult> {
    return this.sweep(toSeconds(this.clock.now()), max);
  }

  async stats(): Promise<SessionStoreStats> {
    const now = toSeconds(this.clock.now());
    let expired = 0;
    const currentBucket = Math.floor(now / BUCKET_SECONDS);
    for (let key = this.sweepBucket; key < currentBucket; key++) {
      const bucket = this.buckets.get(key);
      if (bucket) expired += bucket.length - (key === this.sweepBucket ? this.sweepIndex : 0);
    }
    return {
      stored: this.sessions.size,
      expired: Math.min(expired, this.sessions.size),
      capacity: this.capacity,
      estimatedBytes: this.sessions.size * ESTIMATED_BYTES_PER_SESSION,
    };
  }

  /** Every session, live or not yet swept, as plain copies (a live view: records added while
   *  it runs may or may not be seen). */
  async *exportAll(): AsyncIterableIterator<Session> {
    for (const record of this.sessions.values()) yield record.toSession();
  }

  async importSession(session: Session): Promise<ImportOutcome> {
    const now = toSeconds(this.clock.now());
    if (this.sessions.has(session.id)) return 'exists';
    if (!isLive(session, now)) return 'expired';
    // No shard check: one process finds any id (only a Redis Cluster needs ids with shards).
    if (this.sessions.size >= this.capacity) throw new SessionStoreFullError();
    const record = new SessionRecord(
      session.id,
      this.userKey(session.userId),
      packHashes(session.fingerprintHash, session.refreshHash, session.previousRefreshHash),
      this.strings.intern(session.ipAddress),
      this.strings.intern(session.userAgent),
      session.location,
      session.createdAt,
      session.lastActivity,
      session.idleExpiresAt,
      session.absoluteExpiresAt,
      session.refreshRotatedAt,
      session.loginIpAddress === null && session.loginUserAgent === null
        ? null
        : new LoginClient(session.loginIpAddress, session.loginUserAgent),
    );
    this.insert(record);
    return 'imported';
  }

  private findLive(id: string, now: number): SessionRecord | null {
    const record = this.sessions.get(id);
    return record !== undefined && isLive(record, now) ? record : null;
  }

  private recordActivity(
    record: SessionRecord,
    now: number,
    ipAddress: string,
    userAgent: string,
  ): void {
    const times = activityAt(record, now, this.policy.idleTtl);
    record.lastActivity = times.lastActivity;
    record.idleExpiresAt = times.idleExpiresAt;
    if (ipAddress !== record.ipAddress) {
      record.login ??= new LoginClient(null, null);
      record.login.loginIpAddress ??= record.ipAddress;
      record.ipAddress = this.strings.intern(ipAddress);
    }
    if (userAgent !== record.userAgent) {
      record.login ??= new LoginClient(null, null);
      record.login.loginUserAgent ??= record.userAgent;
      record.userAgent = this.strings.intern(userAgent);
    }
  }

  /** The user's live session ids; drops ids of sessions that are gone or expired. */
  private liveIdsOf(userId: string, now: number): string[] {
    const ids = this.byUser.get(userId);
    if (!ids) return [];
    const live: string[] = [];
    for (const id of [...ids]) {
      const record = this.sessions.get(id);
      if (record && isLive(record, now)) live.push(id);
      else if (record) this.remove(record);
      else this.unindexUser(userId, id);
    }
    return live;
  }

  /** The user id string the user's other records already hold, so records share one copy. */
  private userKey(userId: string): string {
    const ids = this.byUser.get(userId);
    const first = ids !== undefined && ids.length > 0 ? this.sessions.get(ids[0]) : undefined;
    return first?.userId ?? userId;
  }

  private insert(record: SessionRecord): void {
    this.sessions.set(record.id, record);
    // A new array of the exact size rather than push (which grows a one-element array to 17
    // slots): there is one such array per user.
    const ids = this.byUser.get(record.userId);
    this.byUser.set(record.userId, ids ? ids.concat(record.id) : [record.id]);
    this.file(record.id, Math.min(record.idleExpiresAt, record.absoluteExpiresAt));
  }

  private remove(record: SessionRecord): void {
    this.sessions.delete(record.id);
    this.unindexUser(record.userId, record.id);
    // The expiry-index entry stays behind; the sweep skips ids that are gone.
  }

  private unindexUser(userId: string, id: string): void {
    const ids = this.byUser.get(userId);
    if (!ids) return;
    const at = ids.indexOf(id);
    if (at !== -1) ids.splice(at, 1);
    if (ids.length === 0) this.byUser.delete(userId);
  }

  private file(id: string, expiry: number): void {
    const key = Math.max(Math.floor(expiry / BUCKET_SECONDS), this.sweepBucket);
    const bucket = this.buckets.get(key);
    if (bucket) bucket.push(id);
    else this.buckets.set(key, [id]);
  }

  /** Sweeps every bucket that has come due, without a batch limit (used only at capacity). */
  private sweepAllDue(now: number): void {
    while (this.sweep(now, Number.MAX_SAFE_INTEGER).more);
  }

  private sweep(now: number, max: number): SweepResult {
    const dueBefore = Math.floor(now / BUCKET_SECONDS);
    let examined = 0;
    let removed = 0;
    while (this.sweepBucket < dueBefore) {
      if (examined >= max) return { removed, more: true };
      const bucket = this.buckets.get(this.sweepBucket);
      if (bucket === undefined || this.sweepIndex >= bucket.length) {
        this.buckets.delete(this.sweepBucket);
        this.sweepBucket++;
        this.sweepIndex = 0;
        continue;
      }
      const id = bucket[this.sweepIndex++];
      examined++;
      const record = this.sessions.get(id);
      if (record === undefined) continue;
      if (isLive(record, now)) {
        this.file(id, Math.min(record.idleExpiresAt, record.absoluteExpiresAt));
      } else {
        this.remove(record);
        removed++;
      }
    }
    return { removed, more: false };
  }
}
