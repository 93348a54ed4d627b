import { FingerprintAuthError } from 'fingerprint-auth/client';

/** A sentence for the user from a failed call (docs/client.md, "Errors"). */
export function describeError(error: unknown, unauthorized = 'Please log in again.'): string {
  if (!(error instanceof FingerprintAuthError)) return 'The service cannot be reached.';
  switch (error.code) {
    case 'RATE_LIMITED':
      return `Too many attempts; try again in ${error.retryAfter ?? 60} s.`;
    case 'SESSION_LIMIT_REACHED':
      return 'You are signed in on too many devices: log out on one of them first.';
    case 'EMAIL_TAKEN':
      return 'An account with this email already exists.';
    default:
      if (error.status === 401) return unauthorized;
      return error.message;
  }
}
