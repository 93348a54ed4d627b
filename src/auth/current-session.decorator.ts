import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Session } from '../sessions/session';
import type { AuthPrincipal } from './jwt.strategy';

export interface AuthenticatedUser {
  readonly id: string;
  readonly sessionId: string;
}

const principalOf = (context: ExecutionContext): AuthPrincipal =>
  (context.switchToHttp().getRequest<FastifyRequest>() as FastifyRequest & { user: AuthPrincipal })
    .user;

/** The caller of a guarded route: `{ id, sessionId }`. */
export const CurrentUser = createParamDecorator(
  (_: unknown, context: ExecutionContext): AuthenticatedUser => {
    const principal = principalOf(context);
    return { id: principal.userId, sessionId: principal.sessionId };
  },
);

/** The caller's server-side session record (hashes only, no secrets). */
export const CurrentSession = createParamDecorator(
  (_: unknown, context: ExecutionContext): Session => principalOf(context).session,
);
