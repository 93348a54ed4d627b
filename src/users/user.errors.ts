import { DomainError } from '../common/errors';

/** An email the account rules refuse (invisible characters, mixed scripts, a bad domain). */
export class EmailNotAcceptedError extends DomainError {
  constructor(reason: string) {
    super(reason);
  }
}
