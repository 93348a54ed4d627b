import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  HttpStatus,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Turns } from '../common/turns';
import { ApiError } from '../http/api-docs';
import { clientOf, HttpRequestLike } from '../http/client';
import {
  RATE_LIMITED_ROUTE,
  RateLimitedRoute,
  rateLimitedRoute,
} from '../rate-limit/rate-limit.policy';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { normaliseEmailOrNull } from '../users/email-address';
import type { AuthPrincipal } from './jwt.strategy';

/**
 * Limits the route per client IP and per account (see `AuthRateLimitGuard`), and documents the
 * answers the limit adds. Runs after the global JWT guard, so a guarded route knows its user.
 */
export const RateLimited = (route: RateLimitedRoute) =>
  applyDecorators(
    SetMetadata(RATE_LIMITED_ROUTE, route),
    UseGuards(AuthRateLimitGuard),
    ApiError(HttpStatus.TOO_MANY_REQUESTS, 'Too many attempts; see Retry-After', ['RATE_LIMITED']),
    ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'The rate-limit counters are unavailable', [
      'STORE_UNAVAILABLE',
    ]),
  );

/**
 * Two counters per route: the client IP (`request.ip`, so TRUST_PROXY decides whether
 * X-Forwarded-For counts) and the account the request is about, so that rotating addresses buys
 * no extra guesses on one account. The account is the normalised email of the body (login,
 * register) or the authenticated user (password change, account deletion). A request naming no
 * account, or an email the rules refuse, is counted per IP only: it fails validation or
 * authentication anyway. The IP is counted first; a refused IP spends nothing of the account.
 *
 * These are the routes that cost the event loop the most (a login runs rate limits, validation,
 * a query, a session and a token, then waits for its hash), so each starts in an event-loop turn
 * of its own (`Turns`): a burst of them does not hold back the requests that arrive meanwhile.
 *
 * Refresh is counted here per IP only. Its per-session counter is kept by `AuthService.refresh`,
 * for refreshes whose secret matched: the session id is readable in every access token, so
 * counting it before the secret is checked would let anyone holding a leaked token lock the
 * owner out of refreshing.
 */
/** The parts of a request (Express's or Fastify's) the guard reads. */
type RateLimitedRequest = HttpRequestLike & { readonly body?: unknown; user?: AuthPrincipal };

@Injectable()
export class AuthRateLimitGuard implements CanActivate {
  constructor(
    private readonly rateLimiter: RateLimiter,
    private readonly turns: Turns,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.turns.take();
    const route = rateLimitedRoute(context);
    if (route === undefined) throw new Error('AuthRateLimitGuard needs @RateLimited()');
    const request = context.switchToHttp().getRequest<RateLimitedRequest>();
    const client = clientOf(request);
    await this.rateLimiter.consume(route, 'ip', client.ipAddress, client);
    const account = this.accountOf(route, request);
    if (account !== null) await this.rateLimiter.consume(route, 'account', account, client);
    return true;
  }

  /** The account a request is about, as the key its counter is kept under; null when none. */
  private accountOf(route: RateLimitedRoute, request: RateLimitedRequest): string | null {
    switch (route) {
      case 'login':
      case 'register': {
        const body = request.body as { email?: unknown } | null | undefined;
        const email = typeof body === 'object' && body !== null ? body.email : undefined;
        return typeof email === 'string' ? normaliseEmailOrNull(email) : null;
      }
      case 'refresh':
        return null;
      case 'password':
        return request.user?.userId ?? null;
      default: {
        const unknown: never = route;
        throw new Error(`Unknown rate-limited route: ${String(unknown)}`);
      }
    }
  }
}
