import type { KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import passport from 'passport';
// Its types by a namespace import: the published declarations then compile in a host without
// esModuleInterop, where a default import of passport does not.
import type * as Passport from 'passport';
import { Strategy, StrategyOptionsWithRequest } from 'passport-jwt';
import { clientOf, HttpRequestLike } from '../http/client';
import { requestCookie } from '../http/cookies';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { Session, toSeconds } from '../sessions/session';
import { SessionClaims, SessionRejection, SessionsService } from '../sessions/sessions.service';
import type { CachedUser } from '../users/user-cache';
import { UsersService } from '../users/users.service';
import { JWT_ALGORITHM } from './access-token.service';
import { AuthRejection } from './auth-rejection';
import { FingerprintService } from './fingerprint.service';
import { SigningKeys } from './signing-keys';
import { VerifiedTokenCache } from './verified-token-cache';

/** What a guarded request knows about its caller (`request.user`). */
export interface AuthPrincipal {
  readonly userId: string;
  readonly email: string;
  readonly sessionId: string;
  readonly session: Session;
}

export interface CompleteToken {
  header: Record<string, unknown>;
  payload: unknown;
}

/**
 * How far ahead of this server's clock a token's `iat` may be: issuing instances' clocks drift a
 * little (NTP keeps them within milliseconds; this allows for a few seconds, never minutes).
 */
export const CLOCK_SKEW_SECONDS = 5;

/**
 * `Authorization: Bearer <compact JWS>` and nothing else: the scheme (its case is free, RFC 7235),
 * one space and three base64url segments, nothing before or after. passport-jwt's own extractor
 * takes the first word after the scheme and ignores whatever follows it.
 */
const BEARER_TOKEN = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;

/** The token of a well-formed `Authorization` header, or null (passport-jwt then fails the request). */
export function bearerToken(request: Pick<HttpRequestLike, 'headers'>): string | null {
  const header = request.headers?.authorization;
  if (typeof header !== 'string') return null;
  return BEARER_TOKEN.exec(header)?.[1] ?? null;
}

/** A segment that decodes to the text of a JSON object, parsed; null for anything else. */
function jsonObjectSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Whether a segment's text starts (after JSON whitespace) with `{`: an object, never a string. */
function isObjectText(segment: string): boolean {
  const text = Buffer.from(segment, 'base64url');
  for (const byte of text) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte === 0x7b;
  }
  return false;
}

/**
 * passport-jwt's `secretOrKeyProvider`, run on every token before its signature is checked: the
 * key named by the header's `kid` (`unknown_key` when no key accepted now has that id; none: the
 * current key), after two checks jsonwebtoken does not make. The header must be a JSON object;
 * the payload must be the text of one, because jsonwebtoken decodes a payload that is a JSON
 * *string* a second time and would take the claims inside it.
 */
export function verificationKeyFor(keys: SigningKeys, rawToken: string): KeyObject {
  const segments = rawToken.split('.');
  if (segments.length !== 3) throw new AuthRejection('malformed_token');
  const header = jsonObjectSegment(segments[0]);
  if (header === null || !isObjectText(segments[1])) throw new AuthRejection('malformed_token');
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== 'string') throw new AuthRejection('unknown_key');
  const key = keys.verificationKey(kid);
  if (key === null) throw new AuthRejection('unknown_key');
  return key;
}

/**
 * passport-jwt's options: the token checks of step 1 (benchmarks reuse them step by step). The
 * key is picked per token (`verificationKeyFor`).
 */
export function jwtStrategyOptions(
  config: FingerprintAuthConfig,
  keys: SigningKeys,
): StrategyOptionsWithRequest {
  return {
    jwtFromRequest: bearerToken,
    secretOrKeyProvider: (_request, rawToken: string, done) => {
      let key: KeyObject;
      try {
        key = verificationKeyFor(keys, rawToken);
      } catch (rejection) {
        return done(rejection);
      }
      // jsonwebtoken accepts a KeyObject (the typings predate it).
      done(null, key as unknown as Buffer);
    },
    algorithms: [JWT_ALGORITHM],
    ignoreExpiration: false,
    issuer: config.jwtIssuer,
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
    jsonWebTokenOptions: { complete: true },
    passReqToCallback: true,
  };
}

/** What passport sets on the per-request copy of the strategy it runs (see `authenticate`). */
interface PassportActions {
  success(user: unknown, info?: unknown): void;
  fail(challenge?: unknown): void;
  error(error: unknown): void;
}

/** passport-jwt's own state on a strategy: the verify callback PassportStrategy wired to `validate`. */
interface PassportJwtState {
  _verify(request: unknown, payload: unknown, done: (err: unknown, user?: unknown) => void): void;
}

/**
 * Checks a guarded request: the token (its key by `kid`, pinned HS256, `exp`, `iss`/`aud` when
 * configured: done by passport-jwt before `validate`; then its claims and times), then the
 * fingerprint cookie against `fgp`, then the session (through `SessionsService`, which records
 * activity), then that the user still exists.
 *
 * One strategy per module instance and nothing process-wide: it registers with a passport
 * authenticator of its own (never the global one, where a host's own `jwt` strategy lives), the
 * guard hands passport a per-request copy of it, and it remembers the tokens it has verified in a
 * cache of its own.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'fingerprint-auth') {
  private readonly tokenLifetime: number;
  private readonly verifiedTokens = new VerifiedTokenCache();
  /**
   * Marks the requests this strategy has let through (a global guard and a route's guard both
   * ask): a property of the request under a symbol of this instance's own, not a WeakSet, whose
   * `add` alone cost about 1 µs a request (BENCHMARKS.md, "CPU profiles").
   */
  private readonly authenticatedMark = Symbol('fingerprint-auth: authenticated');

  constructor(
    config: FingerprintAuthConfig,
    private readonly keys: SigningKeys,
    private readonly fingerprints: FingerprintService,
    private readonly sessions: SessionsService,
    private readonly users: UsersService,
  ) {
    super(jwtStrategyOptions(config, keys));
    this.tokenLifetime = config.accessTokenTtl;
  }

  /** Whether this strategy has let `request` through already. */
  hasAuthenticated(request: object): boolean {
    return (request as Record<symbol, unknown>)[this.authenticatedMark] === true;
  }

  /** Remembers that `request` was let through (the guard calls it once the strategy succeeded). */
  markAuthenticated(request: object): void {
    (request as Record<symbol, unknown>)[this.authenticatedMark] = true;
  }

  /** Where PassportStrategy registers the strategy: a throwaway authenticator, not passport's global one. */
  getPassportInstance(): Passport.Authenticator {
    return new passport.Passport();
  }

  /**
   * The decoded form of `request`'s token when this strategy verified that very token before and
   * its key is still accepted (and its `exp` still ahead); undefined when passport-jwt must verify
   * it. The guard asks first and, for a remembered token, runs `validateRemembered` itself.
   */
  rememberedToken(request: HttpRequestLike): CompleteToken | undefined {
    const token = bearerToken(request);
    const known = token === null ? undefined : this.verifiedTokens.get(token, Date.now());
    if (known === undefined || this.keys.verificationKey(kidOf(known.decoded)) !== known.key) {
      return undefined;
    }
    return known.decoded as CompleteToken;
  }

  /**
   * passport-jwt's `authenticate`, except for a token this strategy verified before with a key
   * still accepted: that one goes straight to `validate`, skipping the parsing and the HMAC.
   */
  override authenticate(
    this: JwtStrategy & PassportActions & PassportJwtState,
    request: HttpRequestLike,
    options?: object,
  ): void {
    const remembered = this.rememberedToken(request);
    if (remembered === undefined) {
      // passport's typings expect Express's request; any HTTP adapter's request will do.
      super.authenticate(request as never, options);
      return;
    }
    try {
      this._verify(request, remembered, (error, user) => {
        if (error) this.error(error);
        else if (!user) this.fail();
        else this.success(user);
      });
    } catch (error) {
      this.error(error);
    }
  }

  /**
   * The four checks in order, for a token passport-jwt has just verified (which this strategy
   * then remembers); each step below is public so the benchmark can time the guard one step at a
   * time with this very code.
   */
  async validate(request: HttpRequestLike, token: CompleteToken): Promise<AuthPrincipal> {
    const claims = this.claimsOf(token);
    this.remember(request, token);
    return this.afterClaims(request, claims);
  }

  /**
   * The same checks for a token `rememberedToken` returned (the guard's path): nothing to
   * remember. Answered synchronously (throwing an `AuthRejection`, or returning the caller) when
   * the session and the user are at hand in this process and no activity is due; a promise
   * otherwise.
   */
  validateRemembered(
    request: HttpRequestLike,
    token: CompleteToken,
  ): AuthPrincipal | Promise<AuthPrincipal> {
    return this.afterClaims(request, this.claimsOf(token));
  }

  /** Steps 2 to 4, synchronous where they can be (see `validateRemembered`). */
  private afterClaims(
    request: HttpRequestLike,
    claims: SessionClaims,
  ): AuthPrincipal | Promise<AuthPrincipal> {
    this.checkFingerprint(request, claims);
    const session = this.sessions.authenticateNow(claims, clientOf(request));
    return session instanceof Promise ? this.principalAfter(session) : this.principalNow(session);
  }

  private async principalAfter(
    session: Promise<Session | SessionRejection>,
  ): Promise<AuthPrincipal> {
    return this.principalNow(await session);
  }

  /** Step 3's verdict and step 4: the user from the cache when it is there, else asked for. */
  private principalNow(
    session: Session | SessionRejection,
  ): AuthPrincipal | Promise<AuthPrincipal> {
    if (typeof session === 'string') throw new AuthRejection(session);
    const user = this.users.signedInFromCache(session.userId);
    return user === undefined ? this.principalOf(session) : principal(session, user);
  }

  /** Step 1 (after passport-jwt's signature, `exp` and `iss`/`aud`): the claims and their times. */
  claimsOf(token: CompleteToken): SessionClaims {
    // The system clock, not the injected one: jsonwebtoken signs `iat` and checks `exp` by it.
    return readClaims(token, { now: toSeconds(Date.now()), maxLifetime: this.tokenLifetime });
  }

  /** Remembers a token whose signature passport-jwt verified and whose claims are valid. */
  private remember(request: HttpRequestLike, token: CompleteToken): void {
    const raw = bearerToken(request);
    const key = this.keys.verificationKey(kidOf(token));
    if (raw !== null && key !== null) this.verifiedTokens.set(raw, token, key);
  }

  /** Step 2: the fingerprint cookie's SHA-256 equals `fgp`, compared in constant time. */
  checkFingerprint(request: HttpRequestLike, claims: SessionClaims): void {
    const cookie = requestCookie(request, this.fingerprints.cookieName);
    if (cookie === undefined) throw new AuthRejection('missing_fingerprint');
    if (!this.fingerprints.matches(cookie, claims.fgp)) {
      throw new AuthRejection('fingerprint_mismatch');
    }
  }

  /** Step 3: the session is live, the user's and holds the hash; activity recorded (throttled). */
  async sessionOf(request: HttpRequestLike, claims: SessionClaims): Promise<Session> {
    const session = await this.sessions.authenticate(claims, clientOf(request));
    if (typeof session === 'string') throw new AuthRejection(session);
    return session;
  }

  /** Step 4: the user still exists (cached briefly, see `UsersService.signedIn`). */
  async principalOf(session: Session): Promise<AuthPrincipal> {
    const user = await this.users.signedIn(session.userId);
    if (user === null) throw new AuthRejection('user_not_found');
    return principal(session, user);
  }
}

function principal(session: Session, user: CachedUser): AuthPrincipal {
  return { userId: session.userId, email: user.email, sessionId: session.id, session };
}

/** The `kid` header of a decoded (`complete: true`) token; undefined when it names none. */
function kidOf(decoded: unknown): string | undefined {
  const kid = (decoded as { header?: { kid?: unknown } } | null)?.header?.kid;
  return typeof kid === 'string' ? kid : undefined;
}

/** What a token's times are checked against. */
export interface ClaimLimits {
  /** This server's system time, in seconds (the clock jsonwebtoken signs and checks `exp` by). */
  readonly now: number;
  /** The longest `exp - iat` a token of this service has: ACCESS_TOKEN_TTL. */
  readonly maxLifetime: number;
}

const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/**
 * The claims a guarded request needs, or `invalid_claims`: no `crit` header in any form (the
 * service understands no extension, and RFC 7515 forbids an empty list), the claims' types and
 * sizes, an `iat` that is present and not ahead of `limits.now` by more than CLOCK_SKEW_SECONDS,
 * and a lifetime (`exp - iat`) within `limits.maxLifetime`.
 */
export function readClaims(token: CompleteToken, limits: ClaimLimits): SessionClaims {
  const { header, payload } = token;
  if (Object.hasOwn(header, 'crit')) throw new AuthRejection('invalid_claims');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new AuthRejection('invalid_claims');
  }
  const { sub, sid, fgp, exp, iat } = payload as Record<string, unknown>;
  if (
    typeof sub !== 'string' ||
    typeof sid !== 'string' ||
    typeof fgp !== 'string' ||
    !isTime(exp) ||
    !isTime(iat) ||
    sub.length > 64 ||
    sid.length > 64 ||
    fgp.length !== 43
  ) {
    throw new AuthRejection('invalid_claims');
  }
  if (iat > limits.now + CLOCK_SKEW_SECONDS || exp - iat > limits.maxLifetime) {
    throw new AuthRejection('invalid_claims');
  }
  return { sub, sid, fgp };
}
