import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { ExtractJwt, Strategy, StrategyOptionsWithRequest } from 'passport-jwt';
import { Clock } from '../common/clock';
import { Env } from '../config';
import { Session, toSeconds } from '../sessions/session';
import { SessionRepository } from '../sessions/session.repository';
import { clientOf } from '../common/client';
import { JWT_ALGORITHM, signingKey } from './access-token.service';
import { cacheVerifiedTokens } from './verified-token-cache';
import { AuthRejection } from './auth-rejection';
import { FingerprintService, safeEqual } from './fingerprint.service';

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

/** JOSE header parameters this service understands; anything listed in `crit` beyond these fails. */
const UNDERSTOOD_CRITICAL: readonly string[] = [];

/**
 * passport-jwt's options: the token checks of step 1 (benchmarks reuse them step by step). The
 * strategy remembers the tokens it has verified (see `VerifiedTokenCache`).
 */
export function jwtStrategyOptions(config: ConfigService<Env, true>): StrategyOptionsWithRequest {
  const audience = config.get('JWT_AUDIENCE', { infer: true });
  const key = signingKey(config);
  cacheVerifiedTokens(key);
  return {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    // jsonwebtoken accepts a KeyObject (the typings predate it); see `signingKey`.
    secretOrKey: key as unknown as Buffer,
    algorithms: [JWT_ALGORITHM],
    ignoreExpiration: false,
    issuer: config.get('JWT_ISSUER', { infer: true }),
    ...(audience ? { audience } : {}),
    jsonWebTokenOptions: { complete: true },
    passReqToCallback: true,
  };
}

/**
 * Checks a guarded request in the order DESIGN.md gives: the token (pinned HS256, `exp`
 * required, `iss`/`aud` when configured: done by passport-jwt before `validate`), then the
 * fingerprint cookie against `fgp`, then the session, then records activity (throttled).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  private readonly activityInterval: number;

  constructor(
    config: ConfigService<Env, true>,
    private readonly fingerprints: FingerprintService,
    private readonly sessions: SessionRepository,
    private readonly clock: Clock,
  ) {
    super(jwtStrategyOptions(config));
    this.activityInterval = config.get('SESSION_ACTIVITY_INTERVAL', { infer: true });
  }

  async validate(request: FastifyRequest, token: CompleteToken): Promise<AuthPrincipal> {
    const claims = readClaims(token);
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

/** The claims a guarded request needs, or `invalid_claims`. */
export function readClaims(token: CompleteToken): { sub: string; sid: string; fgp: string } {
  const { header, payload } = token;
  const critical = header.crit;
  if (critical !== undefined) {
    if (!Array.isArray(critical) || critical.some((name) => !UNDERSTOOD_CRITICAL.includes(name))) {
      throw new AuthRejection('invalid_claims');
    }
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new AuthRejection('invalid_claims');
  }
  const { sub, sid, fgp, exp } = payload as Record<string, unknown>;
  if (
    typeof sub !== 'string' ||
    typeof sid !== 'string' ||
    typeof fgp !== 'string' ||
    typeof exp !== 'number' ||
    sub.length > 64 ||
    sid.length > 64 ||
    fgp.length !== 43
  ) {
    throw new AuthRejection('invalid_claims');
  }
  return { sub, sid, fgp };
}
