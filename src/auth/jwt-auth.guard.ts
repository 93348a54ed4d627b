import {
  ExecutionContext,
  HttpException,
  Injectable,
  Logger,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { clientOf } from '../common/client';
import { StoreUnavailableError } from '../common/errors';
import { AuthRejection, RejectionReason } from './auth-rejection';
import { IS_PUBLIC } from './public.decorator';
import { SecurityEvents } from '../observability/security-events';

/** The one 401 every guard failure gets, whatever the reason. */
export const UNAUTHORIZED_MESSAGE = 'Invalid or missing credentials';

/**
 * Global guard: every route needs a valid token, fingerprint cookie and session unless marked
 * `@Public()`. Failures look identical to the client; the reason goes to the log and metrics.
 * A store that cannot answer is a 503, never a pass and never a misleading 401.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly events: SecurityEvents,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    try {
      return (await super.canActivate(context)) as boolean;
    } catch (error) {
      if (error instanceof StoreUnavailableError || error instanceof HttpException) throw error;
      // Something threw inside the JWT library itself (a validly signed `null` payload does):
      // the token is malformed, and the answer is the uniform 401, never a 500.
      this.events.guardRejected('malformed_token', clientOf(context.switchToHttp().getRequest()));
      this.logger.error(
        `token check threw: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw new UnauthorizedException(UNAUTHORIZED_MESSAGE);
    }
  }

  override handleRequest<TUser>(
    err: unknown,
    user: TUser,
    info: unknown,
    context: ExecutionContext,
  ): TUser {
    if (err instanceof StoreUnavailableError) throw err;
    if (user && !err) return user;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reason = rejectionReason(err, info, request.headers.authorization !== undefined);
    this.events.guardRejected(reason, clientOf(request));
    if (!(err instanceof AuthRejection) && err) {
      this.logger.error(
        `guard failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    throw new UnauthorizedException(UNAUTHORIZED_MESSAGE);
  }
}

/** `hasAuthorization`: a header that yielded no token was there but unusable, not missing. */
function rejectionReason(err: unknown, info: unknown, hasAuthorization: boolean): RejectionReason {
  if (err instanceof AuthRejection) return err.reason;
  // The key provider's refusals (see `verificationKeyFor`) arrive as passport's failure info.
  if (info instanceof AuthRejection) return info.reason;
  const name = info instanceof Error ? info.name : '';
  const message = info instanceof Error ? info.message : '';
  if (name === 'TokenExpiredError') return 'expired_token';
  if (name === 'NotBeforeError') return 'invalid_claims';
  if (message === 'No auth token') return hasAuthorization ? 'malformed_token' : 'missing_token';
  if (/signature/i.test(message)) return 'bad_signature';
  if (/audience|issuer|exp value|nbf value|subject|jwt id/i.test(message)) return 'invalid_claims';
  return 'malformed_token';
}
