import { DomainError } from '../common/errors';

/** The user already holds the maximum number of live sessions and the policy is `reject`. */
export class SessionLimitReachedError extends DomainError {
  constructor(readonly limit: number) {
    super(`Session limit reached: at most ${limit} active sessions per user`);
  }
}

/** The session store holds as many sessions as it may (SESSION_CAPACITY). */
export class SessionStoreFullError extends DomainError {
  constructor() {
    super('The session store is at capacity; try again later');
  }
}

/** No such session for this user (unknown, expired or someone else's: deliberately the same). */
export class SessionNotFoundError extends DomainError {
  constructor() {
    super('Session not found');
  }
}
