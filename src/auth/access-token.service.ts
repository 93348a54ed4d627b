import { createSecretKey, KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { Env } from '../config';

export const JWT_ALGORITHM = 'HS256';

/** The claims this service puts in every access token. */
export interface AccessTokenClaims {
  sub: string;
  sid: string;
  fgp: string;
  iat: number;
  exp: number;
  iss?: string;
  aud?: string | string[];
}

/** The HS256 key as a prepared KeyObject: jsonwebtoken then skips trying it as a PEM on every call. */
export function signingKey(config: ConfigService<Env, true>): KeyObject {
  const secret: string = config.get('JWT_SECRET', { infer: true });
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

@Injectable()
export class AccessTokenService {
  readonly ttl: number;

  constructor(
    private readonly jwt: JwtService,
    config: ConfigService<Env, true>,
  ) {
    this.ttl = config.get('ACCESS_TOKEN_TTL', { infer: true });
  }

  /** Signs a token for the session; the caller has stored the session already. */
  sign(userId: string, sessionId: string, fingerprintHash: string): string {
    return this.jwt.sign({ sid: sessionId, fgp: fingerprintHash }, { subject: userId });
  }
}
