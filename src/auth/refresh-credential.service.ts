import { randomBytes } from 'node:crypto';
import { Injectable, Optional } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import type { CookieOptions } from '../http/cookies';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { sha256 } from '../common/hashes';

/** The refresh route, below the module's route prefix: the only path the refresh cookie is sent to. */
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
  private readonly routePrefix: string;
  private readonly configuredPath: string | undefined;

  constructor(
    config: FingerprintAuthConfig,
    // The host's `app.setGlobalPrefix()`: set after the modules are built, so read per cookie.
    @Optional() private readonly application?: ApplicationConfig,
  ) {
    this.secure = config.cookieSecure;
    this.maxAge = config.sessionAbsoluteTtl;
    this.cookieName = this.secure ? '__Secure-Fpa-Refresh' : 'fpa_refresh';
    this.routePrefix = config.routePrefix;
    this.configuredPath = config.refreshCookiePath;
  }

  /** `refreshCookiePath`, or where the refresh route is: `[/<global prefix>][<routePrefix>]/auth/refresh`. */
  get path(): string {
    if (this.configuredPath !== undefined) return this.configuredPath;
    const global = (this.application?.getGlobalPrefix() ?? '').replace(/^\/+|\/+$/g, '');
    return `${global === '' ? '' : `/${global}`}${this.routePrefix}${REFRESH_PATH}`;
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

  cookieOptions(): CookieOptions {
    return {
      httpOnly: true,
      secure: this.secure,
      sameSite: 'strict',
      path: this.path,
      maxAge: this.maxAge,
    };
  }

  clearCookieOptions(): CookieOptions {
    return { httpOnly: true, secure: this.secure, sameSite: 'strict', path: this.path };
  }
}
