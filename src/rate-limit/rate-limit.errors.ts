import { DomainError } from '../common/errors';

/** A client or account made more attempts than its limit allows in the current window. */
export class TooManyAttemptsError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super('Too many attempts; try again later');
  }
}
