import type { KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy, StrategyOptionsWithRequest } from 'passport-jwt';
import { Clock } from '../common/clock';
import { Env } from '../config';
import { Session, toSeconds } from '../sessions/session';
import { SessionRepository } from '../sessions/session.repository';
import { clientOf } from '../common/client';
import { JWT_ALGORITHM } from './access-token.service';
import { cacheVerifiedTokens } from './verified-token-cache';
import { AuthRejection } from './auth-rejection';
import { FingerprintService, safeEqual } from './fingerprint.service';
import { SigningKeys } from './signing-keys';

/** What a guarded request knows about its caller (`request.user`). */
export interface AuthPrincipal {
  readonly userId: string;
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
export function bearerToken(request: FastifyRequest): string | null {
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
 * key is picked per token (`verificationKeyFor`); the strategy remembers the tokens it has
 * verified with each key (see `VerifiedTokenCache`), and since the key is picked first, a
 * remembered token of a previous key is refused once that key's window has closed.
 */
export function jwtStrategyOptions(
  config: ConfigService<Env, true>,
  keys: SigningKeys,
): StrategyOptionsWithRequest {
  const audience = config.get('JWT_AUDIENCE', { infer: true });
  for (const { key } of keys.verificationKeys()) cacheVerifiedTokens(key);
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
    issuer: config.get('JWT_ISSUER', { infer: true }),
    ...(audience ? { audience } : {}),
    jsonWebTokenOptions: { complete: true },
    passReqToCallback: true,
  };
}

/**
 * Checks a guarded request: the token (its key by `kid`, pinned HS256, `exp`, `iss`/`aud` when
 * configured: done by passport-jwt before `validate`; then its claims and times), then the
 * fingerprint cookie against `fgp`, then the session, then records activity (throttled).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  private readonly activityInterval: number;
  private readonly tokenLifetime: number;

  constructor(
    config: ConfigService<Env, true>,
    keys: SigningKeys,
    private readonly fingerprints: FingerprintService,
    private readonly sessions: SessionRepository,
    private readonly clock: Clock,
  ) {
    super(jwtStrategyOptions(config, keys));
    this.activityInterval = config.get('SESSION_ACTIVITY_INTERVAL', { infer: true });
    this.tokenLifetime = config.get('ACCESS_TOKEN_TTL', { infer: true });
  }

  async validate(request: FastifyRequest, token: CompleteToken): Promise<AuthPrincipal> {
    // The system clock, not the injected one: jsonwebtoken signs `iat` and checks `exp` by it.
    const claims = readClaims(token, {
      now: toSeconds(Date.now()),
      maxLifetime: this.tokenLifetime,
    });
    const cookie = request.cookies?.[this.fingerprints.cookieName];
    if (cookie === undefined) throw new AuthRejection('missing_fingerprint');
    if (!this.fingerprints.matches(cookie, claims.fgp))
      throw new AuthRejection('fingerprint_mismatch');

    const session = await this.sessions.findById(claims.sid);
    if (session === null) throw new AuthRejection('session_not_found');
    if (session.userId !== claims.sub || !safeEqual(session.fingerprintHash, claims.fgp)) {
      throw new AuthRejection('session_mismatch');
    }

    const client = clientOf(request);
    if (
      toSeconds(this.clock.now()) - session.lastActivity >= this.activityInterval ||
      client.ipAddress !== session.ipAddress ||
      client.userAgent !== session.userAgent
    ) {
      await this.sessions.touch(session.id, client.ipAddress, client.userAgent);
    }
    return { userId: session.userId, sessionId: session.id, session };
  }
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
export function readClaims(
  token: CompleteToken,
  limits: ClaimLimits,
): { sub: string; sid: string; fgp: string } {
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
