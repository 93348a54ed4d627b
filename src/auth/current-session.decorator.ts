import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Session } from '../sessions/session';
import type { AuthPrincipal } from './jwt.strategy';

/** The caller of a guarded route. */
export interface AuthenticatedUser {
  readonly id: string;
  readonly email: string;
  /** The session the request belongs to (`DELETE /sessions/:id` ends it). */
  readonly sessionId: string;
}

const principalOf = (context: ExecutionContext): AuthPrincipal => {
  const principal = context.switchToHttp().getRequest<{ user?: AuthPrincipal }>().user;
  // Only a route FingerprintAuthGuard let through has one: a wiring mistake otherwise.
  if (principal === undefined) {
    throw new Error('@CurrentUser() and @CurrentSession() need FingerprintAuthGuard on the route');
  }
  return principal;
};

/** The caller of a guarded route: `{ id, email, sessionId }`. */
export const CurrentUser = createParamDecorator(
  (_: unknown, context: ExecutionContext): AuthenticatedUser => {
    const principal = principalOf(context);
    return { id: principal.userId, email: principal.email, sessionId: principal.sessionId };
  },
);

/** The caller's server-side session record (hashes only, no secrets). */
export const CurrentSession = createParamDecorator(
  (_: unknown, context: ExecutionContext): Session => principalOf(context).session,
);
