import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { CookieSerializeOptions } from '@fastify/cookie';
import { Env } from '../config';
import { sha256 } from './fingerprint.service';

export const REFRESH_PATH = '/auth/refresh';
const CREDENTIAL_PATTERN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export interface RefreshCredential {
  /** The cookie value: `<sessionId>.<secret>`. */
  readonly value: string;
  /** base64url SHA-256 of the secret: all the store keeps. */
  readonly hash: string;
}

/**
 * Opaque refresh credentials: `<sessionId>.<32 random bytes>` in an HttpOnly cookie that the
 * browser sends to the refresh route only. Not a JWT, so an access token can never pass for one.
 */
@Injectable()
export class RefreshCredentialService {
  readonly cookieName: string;
  private readonly secure: boolean;
  private readonly maxAge: number;

  constructor(config: ConfigService<Env, true>) {
    this.secure = config.get('COOKIE_SECURE', { infer: true });
    this.maxAge = config.get('SESSION_ABSOLUTE_TTL', { infer: true });
    this.cookieName = this.secure ? '__Secure-Fpa-Refresh' : 'fpa_refresh';
  }

  issue(sessionId: string): RefreshCredential {
    const secret = randomBytes(32).toString('base64url');
    return { value: `${sessionId}.${secret}`, hash: sha256(secret) };
  }

  /** The session id and secret hash in a cookie value; null when it is not one of ours. */
  parse(value: string | undefined): { sessionId: string; hash: string } | null {
    const match = value === undefined ? null : CREDENTIAL_PATTERN.exec(value);
    return match ? { sessionId: match[1], hash: sha256(match[2]) } : null;
  }

  cookieOptions(): CookieSerializeOptions {
    return {
      httpOnly: true,
      secure: this.secure,
      sameSite: 'strict',
      path: REFRESH_PATH,
      maxAge: this.maxAge,
    };
  }

  clearCookieOptions(): CookieSerializeOptions {
    return { httpOnly: true, secure: this.secure, sameSite: 'strict', path: REFRESH_PATH };
  }
}
