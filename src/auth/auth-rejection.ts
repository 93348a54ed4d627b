/** Why the guard turned a request away: logged and counted, never told to the client. */
export type RejectionReason =
  | 'missing_token'
  | 'malformed_token'
  | 'bad_signature'
  /** Its `kid` names no key accepted now (unknown, or a previous key past its window). */
  | 'unknown_key'
  | 'expired_token'
  | 'invalid_claims'
  | 'missing_fingerprint'
  | 'fingerprint_mismatch'
  | 'session_not_found'
  | 'session_mismatch'
  /** The session is valid but its user no longer exists (deleted on another instance, or outside the service). */
  | 'user_not_found';

export class AuthRejection extends Error {
  constructor(readonly reason: RejectionReason) {
    super(reason);
    this.name = 'AuthRejection';
  }
}

/** How a login attempt ended (logs and the `fpa_logins_total` metric). */
export type LoginResult =
  'success' | 'invalid_credentials' | 'session_limit' | 'store_full' | 'store_unavailable';
