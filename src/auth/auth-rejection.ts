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
  | 'session_mismatch';

export class AuthRejection extends Error {
  constructor(readonly reason: RejectionReason) {
    super(reason);
    this.name = 'AuthRejection';
  }
}
