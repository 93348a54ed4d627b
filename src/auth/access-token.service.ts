import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { Env } from '../config';
import { SigningKeys } from './signing-keys';

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

@Injectable()
export class AccessTokenService {
  readonly ttl: number;

  constructor(
    private readonly jwt: JwtService,
    private readonly keys: SigningKeys,
    config: ConfigService<Env, true>,
  ) {
    this.ttl = config.get('ACCESS_TOKEN_TTL', { infer: true });
  }

  /** Signs a token for the session with the current key (named by `kid`); the caller has stored the session already. */
  sign(userId: string, sessionId: string, fingerprintHash: string): string {
    const { kid, key } = this.keys.current;
    return this.jwt.sign(
      { sid: sessionId, fgp: fingerprintHash },
      // jsonwebtoken accepts a KeyObject (the typings predate it).
      { subject: userId, keyid: kid, privateKey: key as unknown as Buffer },
    );
  }
}
