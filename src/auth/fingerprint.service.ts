import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { safeEqual, sha256 } from '../common/hashes';
import type { CookieOptions } from '../http/cookies';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';

/** 32 random bytes, base64url: 43 characters. */
export const FINGERPRINT_BYTES = 32;
const FINGERPRINT_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * The browser fingerprint: a random value in a hardened HttpOnly cookie whose hash is bound into
 * every access token (`fgp`). Script in the page can read a token but never this cookie.
 */
@Injectable()
export class FingerprintService {
  readonly cookieName: string;
  private readonly secure: boolean;
  private readonly maxAge: number;

  constructor(config: FingerprintAuthConfig) {
    this.secure = config.cookieSecure;
    this.maxAge = config.accessTokenTtl;
    // `__Host-` makes the browser refuse the cookie unless Secure, Path=/ and no Domain.
    this.cookieName = this.secure ? '__Host-Fgp' : 'fgp';
  }

  /** A fresh fingerprint (never one the client suggested). */
  draw(): string {
    return randomBytes(FINGERPRINT_BYTES).toString('base64url');
  }

  hash(fingerprint: string): string {
    return sha256(fingerprint);
  }

  /** True when the cookie value is a well-formed fingerprint whose hash equals the token's claim. */
  matches(cookieValue: string | undefined, claimedHash: string): boolean {
    if (cookieValue === undefined || !FINGERPRINT_PATTERN.test(cookieValue)) return false;
    // Compared as base64url text: `crypto.hash` with a 'buffer' digest measured slower on Node 20
    // (each digest a new ArrayBuffer), though it saves both texts' buffers.
    return safeEqual(sha256(cookieValue), claimedHash);
  }

  cookieOptions(): CookieOptions {
    return {
      httpOnly: true,
      secure: this.secure,
      sameSite: 'strict',
      path: '/',
      maxAge: this.maxAge,
    };
  }

  clearCookieOptions(): CookieOptions {
    return { httpOnly: true, secure: this.secure, sameSite: 'strict', path: '/' };
  }
}
