import {
  ExecutionContext,
  HttpException,
  HttpStatus,
  Injectable,
  Logger,
  UnauthorizedException,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import passport from 'passport';
import { StoreUnavailableError } from '../common/errors';
import { classifyStoreFailure } from '../common/store-failure';
import { clientOf, HttpRequestLike } from '../http/client';
import { SecurityEvents } from '../observability/security-events';
import { AuthRejection, RejectionReason } from './auth-rejection';
import { AuthPrincipal, JwtStrategy } from './jwt.strategy';
import { IS_PUBLIC } from './public.decorator';

/** The one 401 every guard failure gets, whatever the reason. */
export const UNAUTHORIZED_MESSAGE = 'Invalid or missing credentials';

/** A store that failed is usually back within a second or two (reconnect, failover). */
export const STORE_RETRY_AFTER_SECONDS = 1;

/**
 * Requires a valid access token, its fingerprint cookie and a live session of an existing user;
 * `@Public()` opts a route (or controller) out. Use it per route (`@UseGuards(FingerprintAuthGuard)`)
 * or for every route of the app (`globalGuard: true`). Failures look identical to the client (the
 * same 401; the reason goes to the log and metrics). A store that cannot answer is a 503 with
 * `Retry-After` and `code: STORE_UNAVAILABLE`, never a pass and never a misleading 401, also on a
 * host's own routes, whatever their exception filters.
 *
 * Passport runs the module's own strategy instance, handed over per request (never a strategy
 * looked up by name in passport's global registry, where a host's `jwt` strategy may live).
 */
@Injectable()
export class FingerprintAuthGuard extends AuthGuard('fingerprint-auth') {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly strategy: JwtStrategy,
    private readonly events: SecurityEvents,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    super();
  }

  /**
   * A public route, a request this guard let through already, and a remembered token whose
   * session and user are at hand in this process are answered synchronously: Nest's guard runner
   * takes a boolean as it is, without the promise and the two awaits an async answer costs it
   * (on every unguarded route, on every library route under `globalGuard`, where the route's own
   * guard asks again, and on most guarded requests with sessions in memory or near-cached).
   *
   * A token the strategy has verified before (an SPA sends the same one until it refreshes) goes
   * straight to its `validateRemembered`, the same four checks; only a token it has not seen goes
   * through passport and passport-jwt. Besides the parsing and the HMAC, that skips passport's
   * per-request plumbing (a copy of the strategy, five closures on it and more around it): with
   * it, V8 promoted most of every request's objects to the old generation (about 3 MB per
   * young-generation collection under load, against none without it), and the guard spent more
   * time collecting garbage than checking (BENCHMARKS.md, "CPU profiles").
   */
  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<HttpRequestLike & { user?: AuthPrincipal }>();
    // With `globalGuard` the route's own guard asks again: the first answer stands.
    if (this.strategy.hasAuthenticated(request)) return true;
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const response = http.getResponse<unknown>();
    let answer: AuthPrincipal | Promise<AuthPrincipal> | undefined;
    try {
      const remembered = this.strategy.rememberedToken(request);
      if (remembered !== undefined) answer = this.strategy.validateRemembered(request, remembered);
    } catch (error) {
      // A refusal takes the promise's way: the same answer, logs and metrics, and it is rare.
      answer = Promise.reject(error);
    }
    if (answer === undefined) {
      return this.settle(this.throughPassport(request, response, context), request, response);
    }
    if (!(answer instanceof Promise)) {
      return this.admit(request, this.handleRequest(null, answer, undefined, context));
    }
    const checked = answer.then(
      (principal) => this.handleRequest(null, principal, undefined, context),
      (error: unknown) =>
        this.handleRequest(error, false as unknown as AuthPrincipal, undefined, context),
    );
    return this.settle(checked, request, response);
  }

  /** Lets the request through as `principal`. */
  private admit(
    request: HttpRequestLike & { user?: AuthPrincipal },
    principal: AuthPrincipal,
  ): true {
    request.user = principal;
    this.strategy.markAuthenticated(request);
    return true;
  }

  /** Resolves true once the caller is known, or rejects with the answer's error. */
  private async settle(
    checked: Promise<AuthPrincipal>,
    request: HttpRequestLike & { user?: AuthPrincipal },
    response: unknown,
  ): Promise<boolean> {
    let principal: AuthPrincipal;
    try {
      principal = await checked;
    } catch (error) {
      if (error instanceof HttpException) throw error;
      if (error instanceof StoreUnavailableError) throw this.unavailable(error, request, response);
      // Something threw inside the JWT library itself (a validly signed `null` payload does):
      // the token is malformed, and the answer is the uniform 401, never a 500.
      this.events.guardRejected('malformed_token', clientOf(request));
      this.logger.error(
        `token check threw: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw new UnauthorizedException(UNAUTHORIZED_MESSAGE);
    }
    return this.admit(request, principal);
  }

  /** Runs the strategy through passport (which runs passport-jwt's verification first). */
  private throughPassport(
    request: HttpRequestLike,
    response: unknown,
    context: ExecutionContext,
  ): Promise<AuthPrincipal> {
    return new Promise((resolve, reject) => {
      const perRequest = Object.create(this.strategy) as passport.Strategy;
      passport.authenticate(
        perRequest,
        { session: false },
        (err: unknown, user: unknown, info: unknown) => {
          try {
            resolve(this.handleRequest(err, user as AuthPrincipal, info, context));
          } catch (error) {
            reject(error);
          }
        },
      )(request, response, (error?: unknown) => reject(error));
    });
  }

  override handleRequest<TUser>(
    err: unknown,
    user: TUser,
    info: unknown,
    context: ExecutionContext,
  ): TUser {
    if (err instanceof StoreUnavailableError) throw err;
    if (user && !err) return user;
    const request = context.switchToHttp().getRequest<HttpRequestLike>();
    const reason = rejectionReason(err, info, request.headers.authorization !== undefined);
    this.events.guardRejected(reason, clientOf(request));
    if (!(err instanceof AuthRejection) && err) {
      this.logger.error(
        `guard failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    throw new UnauthorizedException(UNAUTHORIZED_MESSAGE);
  }

  /** The 503 a store outage answers, in the library's error shape, logged without driver text. */
  private unavailable(
    error: StoreUnavailableError,
    request: HttpRequestLike,
    response: unknown,
  ): HttpException {
    const client = clientOf(request);
    this.logger.error({
      event: 'store_unavailable',
      ...(client.requestId !== undefined ? { reqId: client.requestId } : {}),
      store: error.store,
      ...classifyStoreFailure(error.cause),
    });
    this.adapterHost.httpAdapter.setHeader(
      response,
      'Retry-After',
      String(STORE_RETRY_AFTER_SECONDS),
    );
    return new HttpException(
      {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service Unavailable',
        message: error.message,
        code: 'STORE_UNAVAILABLE',
      },
      HttpStatus.SERVICE_UNAVAILABLE,
    );
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
