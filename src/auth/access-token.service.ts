import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
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

/** Signs access tokens: HS256 with the current key, named by `kid`, for `accessTokenTtl`. */
@Injectable()
export class AccessTokenService {
  readonly ttl: number;
  private readonly jwt: JwtService;

  constructor(
    private readonly keys: SigningKeys,
    config: FingerprintAuthConfig,
  ) {
    this.ttl = config.accessTokenTtl;
    // @nestjs/jwt's service, built here rather than through JwtModule: its options are this
    // module instance's, and nothing is registered in the host app.
    this.jwt = new JwtService({
      signOptions: {
        algorithm: JWT_ALGORITHM,
        expiresIn: config.accessTokenTtl,
        issuer: config.jwtIssuer,
        ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
      },
    });
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
