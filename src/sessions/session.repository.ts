import type { SweepResult } from '../common/sweep';
import type { GeoLocation } from '../geoip/geo-location';
import { NewSession, Session } from './session';

export interface CreateSessionResult {
  readonly session: Session;
  /** Sessions removed to make room under the `evict-oldest` policy. */
  readonly evicted: readonly Session[];
}

export interface RefreshRotation {
  /** Hash of the refresh secret the client presented. */
  readonly presentedHash: string;
  readonly nextRefreshHash: string;
  readonly nextFingerprintHash: string;
  readonly ipAddress: string;
  readonly userAgent: string;
  /** New location when the IP changed and was looked up again; `undefined` keeps the stored one. */
  readonly location?: GeoLocation | null;
}

/**
 * Whether `rotation` is one the session has already made: the same request sent again (a
 * client that resends a command whose answer a dropped connection lost). It answers `rotated`
 * again and changes nothing. Safe because `nextRefreshHash` hashes a secret drawn for that one
 * request: nobody replaying an old credential can present it.
 */
export function isRepeatedRotation(
  rotation: RefreshRotation,
  fingerprintHash: string,
  refreshHash: string,
  previousRefreshHash: string | null,
): boolean {
  return (
    refreshHash === rotation.nextRefreshHash &&
    previousRefreshHash === rotation.presentedHash &&
    fingerprintHash === rotation.nextFingerprintHash
  );
}

export type RefreshOutcome =
  /** The presented credential was current: new credential and fingerprint stored, idle expiry slid
   *  (or this very rotation was already made: see `isRepeatedRotation`). */
  | { readonly kind: 'rotated'; readonly session: Session }
  /** The credential rotated out within the grace period: nothing changed, the session stays valid. */
  | { readonly kind: 'grace'; readonly session: Session }
  /** An already-rotated credential was replayed after the grace period: the session is now revoked. */
  | { readonly kind: 'reused'; readonly session: Session }
  /** No live session with this id, or a credential this session never issued. */
  | { readonly kind: 'invalid' };

export interface SessionStoreStats {
  /** Sessions held, including expired ones not yet swept; null when the store cannot count
   *  them cheaply (Redis: counting would mean scanning the keyspace). */
  readonly stored: number | null;
  /** Sessions held whose expiry has passed (an estimate); null when unknown. */
  readonly expired: number | null;
  /** Most sessions the store will hold; null when the store has no fixed capacity (Redis). */
  readonly capacity: number | null;
  /** Estimated memory the sessions take, in bytes; null when unknown. */
  readonly estimatedBytes: number | null;
}

/** What importing one session did. */
export type ImportOutcome =
  /** Stored, with its times: it expires when it would have in the store it came from. */
  | 'imported'
  /** A session with this id is stored already; left as it is (importing twice is harmless). */
  | 'exists'
  /** Past its idle or absolute expiry: not stored. */
  | 'expired'
  /** Its id was not made for its user (see session-id.ts): a cluster could not find it by id. */
  | 'foreign';

export type { SweepResult } from '../common/sweep';

/**
 * Where sessions live. Every method is atomic on its own: concurrent calls (also from other
 * instances, for shared stores) never break the per-user limit or lose an index entry.
 * Expiry is checked on every read against the injected clock. Failures of the backing store
 * surface as `StoreUnavailableError`.
 */
export abstract class SessionRepository {
  /** True when the store keeps sessions across restarts of this process by itself (Redis);
   *  false when only a snapshot does (memory). */
  abstract readonly durable: boolean;

  /** Stores a new session, enforcing the per-user limit: evicts the least recently active
   *  live sessions (`evict-oldest`) or throws `SessionLimitReachedError` (`reject`); throws
   *  `SessionStoreFullError` at capacity once expired sessions are dropped. */
  abstract create(input: NewSession): Promise<CreateSessionResult>;

  /** The live session with this id; null when missing, revoked or expired. */
  abstract findById(id: string): Promise<Session | null>;

  /**
   * `findById` answered without I/O, where the store holds the answer in this process (sessions
   * in memory, a near-cache hit); undefined when only `findById` can tell. A guarded request
   * whose every answer is at hand is then checked synchronously, without a promise. Stores that
   * always ask elsewhere keep this default.
   */
  findInMemory(_id: string): Session | null | undefined {
    return undefined;
  }

  /** The user's live sessions, in no particular order. */
  abstract listByUser(userId: string): Promise<Session[]>;

  /** Records activity now: slides the idle expiry (never past the absolute one) and records a
   *  change of IP address or user agent since login. No-op when the session is gone. */
  abstract touch(id: string, ipAddress: string, userAgent: string): Promise<void>;

  /** Checks the presented refresh credential against the session and rotates it (see `RefreshOutcome`). */
  abstract rotateRefresh(id: string, rotation: RefreshRotation): Promise<RefreshOutcome>;

  /** Removes the session when it exists and belongs to `userId`; returns the removed session or null. */
  abstract revoke(id: string, userId: string): Promise<Session | null>;

  /** Removes every session of the user except `exceptId`; returns how many were removed. */
  abstract revokeAllForUser(userId: string, exceptId?: string): Promise<number>;

  /** Removes up to `max` expired sessions; call again while `more` is true. */
  abstract deleteExpired(max: number): Promise<SweepResult>;

  /** Counts for readiness and metrics. */
  abstract stats(): Promise<SessionStoreStats>;

  /** Every stored session, expired ones not yet swept included (the reader decides), for
   *  snapshots and for moving sessions to another store; in no particular order. */
  abstract exportAll(): AsyncIterable<Session>;

  /** Puts back a session exported from a store, with its times and hashes as they were (see
   *  `ImportOutcome`); `SessionStoreFullError` at capacity. */
  abstract importSession(session: Session): Promise<ImportOutcome>;
}
