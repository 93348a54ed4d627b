import type { GeoLocation } from '../geoip/geo-location';

/**
 * A server-side session as stored. Times are whole seconds since the epoch (small integers keep
 * a million records compact). Secrets are never stored: only base64url SHA-256 hashes.
 */
export interface Session {
  readonly id: string;
  readonly userId: string;
  /** base64url SHA-256 of the fingerprint cookie; equals the access token's `fgp` claim. */
  readonly fingerprintHash: string;
  /** base64url SHA-256 of the current refresh credential's secret. */
  readonly refreshHash: string;
  /** Hash of the refresh credential this one replaced, honoured briefly (two tabs refreshing). */
  readonly previousRefreshHash: string | null;
  /** When the refresh credential was last rotated (0 = never). */
  readonly refreshRotatedAt: number;
  readonly ipAddress: string;
  readonly userAgent: string;
  readonly location: GeoLocation | null;
  /** IP address and user agent at login, kept only when a later request differs from them. */
  readonly loginIpAddress: string | null;
  readonly loginUserAgent: string | null;
  readonly createdAt: number;
  readonly lastActivity: number;
  /** Sliding idle expiry, never past `absoluteExpiresAt`. */
  readonly idleExpiresAt: number;
  readonly absoluteExpiresAt: number;
}

/** What a login hands the store; the store fills in the times. */
export interface NewSession {
  readonly id: string;
  readonly userId: string;
  readonly fingerprintHash: string;
  readonly refreshHash: string;
  readonly ipAddress: string;
  readonly userAgent: string;
  readonly location: GeoLocation | null;
}

/** Lifetimes and per-user limit a store enforces. Seconds. */
export interface SessionPolicy {
  readonly idleTtl: number;
  readonly absoluteTtl: number;
  readonly maxPerUser: number;
  readonly limitPolicy: 'evict-oldest' | 'reject';
  /** How long a rotated-out refresh credential is still honoured. */
  readonly refreshGracePeriod: number;
}

export const toSeconds = (ms: number): number => Math.floor(ms / 1000);

/** The session a login stores at `now` (seconds) under `policy`: fresh times, nothing rotated yet. */
export function startedSession(
  input: NewSession,
  now: number,
  policy: Pick<SessionPolicy, 'idleTtl' | 'absoluteTtl'>,
): Session {
  const absoluteExpiresAt = now + policy.absoluteTtl;
  return {
    id: input.id,
    userId: input.userId,
    fingerprintHash: input.fingerprintHash,
    refreshHash: input.refreshHash,
    previousRefreshHash: null,
    refreshRotatedAt: 0,
    ipAddress: input.ipAddress,
    userAgent: input.userAgent,
    location: input.location,
    loginIpAddress: null,
    loginUserAgent: null,
    createdAt: now,
    lastActivity: now,
    idleExpiresAt: Math.min(now + policy.idleTtl, absoluteExpiresAt),
    absoluteExpiresAt,
  };
}

/**
 * The activity times a request at `now` (seconds) leaves on `session`: the idle expiry slides by
 * `idleTtl`, never past the absolute expiry, and neither time moves back (a write carrying an
 * earlier time, resent late or from an instance whose clock is behind, keeps the later one).
 */
export function activityAt(
  session: Pick<Session, 'lastActivity' | 'idleExpiresAt' | 'absoluteExpiresAt'>,
  now: number,
  idleTtl: number,
): Pick<Session, 'lastActivity' | 'idleExpiresAt'> {
  return {
    lastActivity: Math.max(session.lastActivity, now),
    idleExpiresAt: Math.max(
      session.idleExpiresAt,
      Math.min(now + idleTtl, session.absoluteExpiresAt),
    ),
  };
}

/** When the session ends if nothing happens: the sooner of idle and absolute expiry. */
export const expiresAt = (session: Session): number =>
  Math.min(session.idleExpiresAt, session.absoluteExpiresAt);

export const isLive = (
  session: Pick<Session, 'idleExpiresAt' | 'absoluteExpiresAt'>,
  nowSeconds: number,
): boolean => nowSeconds < session.idleExpiresAt && nowSeconds < session.absoluteExpiresAt;

/** Why a session ended before its expiry (logs and the `fpa_session_revocations_total` metric). */
export type RevocationReason =
  | 'logout'
  | 'user'
  | 'logout_all'
  | 'password_change'
  | 'refresh_reuse'
  /** The user deleted their account (DELETE /account). */
  | 'account_deleted'
  /** A refresh found the session's user gone (deleted outside the service). */
  | 'user_missing';
