import {
  applyDecorators,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { SecurityEvents } from '../observability/security-events';
import { TooManyAttemptsError } from '../rate-limit/rate-limit.errors';
import {
  RATE_LIMITED_ROUTE,
  RateLimitedRoute,
  rateLimitedRoute,
} from '../rate-limit/rate-limit.policy';
import { normaliseEmail } from '../users/users.service';
import type { AuthPrincipal } from './jwt.strategy';
import { RefreshCredentialService } from './refresh-credential.service';

/**
 * Limits the route per client IP and per account (see `AuthRateLimitGuard`). Runs after the global
 * JWT guard, so a guarded route knows its user.
 */
export const RateLimited = (route: RateLimitedRoute) =>
  applyDecorators(SetMetadata(RATE_LIMITED_ROUTE, route), UseGuards(AuthRateLimitGuard));

/**
 * @nestjs/throttler's guard with two counters per route: the client IP (`request.ip`, so
 * TRUST_PROXY decides whether X-Forwarded-For counts) and the account the request is about, so
 * that rotating addresses buys no extra guesses on one account. The account is the normalised
 * email of the body (login, register), the session of the refresh cookie (refresh) or the
 * authenticated user (password change). A request naming no account is counted per IP only: it
 * fails validation or authentication anyway.
 */
@Injectable()
export class AuthRateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly refreshCredentials: RefreshCredentialService,
    private readonly events: SecurityEvents,
  ) {
    super(options, storage, reflector);
  }

  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    const route = rateLimitedRoute(request.context);
    if (route === undefined) throw new Error('AuthRateLimitGuard needs @RateLimited()');
    const scope = request.throttler.name ?? 'default';
    let props = request;
    if (scope === 'account') {
      const account = this.accountOf(route, request.context);
      if (account === null) return true;
      props = { ...request, getTracker: () => account };
    }
    try {
      return await super.handleRequest(props);
    } catch (error) {
      if (error instanceof TooManyAttemptsError) {
        const { ip } = request.context.switchToHttp().getRequest<FastifyRequest>();
        this.events.rateLimited(route, scope, { ip });
      }
      throw error;
    }
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    throw new TooManyAttemptsError(Math.max(1, detail.timeToBlockExpire));
  }

  /** The account a request is about, as the key its counter is kept under; null when none. */
  private accountOf(route: RateLimitedRoute, context: ExecutionContext): string | null {
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthPrincipal }>();
    switch (route) {
      case 'login':
      case 'register': {
        const body = request.body as { email?: unknown } | null | undefined;
        const email = typeof body === 'object' && body !== null ? body.email : undefined;
        return typeof email === 'string' ? normaliseEmail(email) : null;
      }
      case 'refresh': {
        const cookie = request.cookies?.[this.refreshCredentials.cookieName];
        return this.refreshCredentials.parse(cookie)?.sessionId ?? null;
      }
      case 'password':
        return request.user?.userId ?? null;
      default: {
        const unknown: never = route;
        throw new Error(`Unknown rate-limited route: ${String(unknown)}`);
      }
    }
  }
}
