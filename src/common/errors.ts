/**
 * Domain errors. Services throw these; `DomainExceptionFilter` maps them to HTTP at the edge,
 * so nothing below the controllers speaks HTTP.
 */
export abstract class DomainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Unknown email or wrong password; deliberately one error for both. */
export class InvalidCredentialsError extends DomainError {
  /** `accountId`: the existing account a wrong password was given for (the audit trail records
   *  the attempt); never part of an answer. */
  constructor(readonly accountId?: string) {
    super('Invalid email or password');
  }
}

/**
 * The signed-in user's current password, asked again before a sensitive change (password change,
 * account deletion), was wrong. Not a 401: the caller is still signed in and stays so.
 */
export class CurrentPasswordIncorrectError extends DomainError {
  constructor() {
    super('The current password is incorrect');
  }
}

/** A credential other than a password (refresh credential, session) is missing, invalid or revoked. */
export class UnauthenticatedError extends DomainError {
  constructor() {
    super('Invalid or missing credentials');
  }
}

export class EmailTakenError extends DomainError {
  constructor() {
    super('An account with this email already exists');
  }
}

/** A store (session store, user database or rate-limit counters) failed or timed out; the request may be retried. */
export class StoreUnavailableError extends DomainError {
  constructor(
    readonly store: 'sessions' | 'users' | 'rate-limit' | 'audit',
    override readonly cause?: unknown,
  ) {
    super(`The ${store} store is unavailable`);
  }
}
