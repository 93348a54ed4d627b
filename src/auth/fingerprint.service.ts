import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { CookieSerializeOptions } from '@fastify/cookie';
import { Env } from '../config';

/** 32 random bytes, base64url: 43 characters. */
export const FINGERPRINT_BYTES = 32;
const FINGERPRINT_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** One-shot `crypto.hash` (Node 20.12+): a few times cheaper than a Hash object, and every
 *  guarded request hashes its fingerprint cookie. Node 20.11 has only the Hash object. */
const hashOnce = (crypto as Partial<Pick<typeof crypto, 'hash'>>).hash;

/** base64url SHA-256 of a value: what tokens and stores hold instead of the secret itself. */
export function sha256(value: string): string {
  return hashOnce
    ? hashOnce('sha256', value, 'base64url')
    : createHash('sha256').update(value).digest('base64url');
}

/** Compares two strings without an early exit on the first differing byte. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The browser fingerprint: a random value in a hardened HttpOnly cookie whose hash is bound into
 * every access token (`fgp`). Script in the page can read a token but never this cookie.
 */
@Injectable()
export class FingerprintService {
  readonly cookieName: string;
  private readonly secure: boolean;
  private readonly maxAge: number;

  constructor(config: ConfigService<Env, true>) {
    this.secure = config.get('COOKIE_SECURE', { infer: true });
    this.maxAge = config.get('ACCESS_TOKEN_TTL', { infer: true });
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
    return safeEqual(sha256(cookieValue), claimedHash);
  }

  cookieOptions(): CookieSerializeOptions {
    return {
      httpOnly: true,
      secure: this.secure,
      sameSite: 'strict',
      path: '/',
      maxAge: this.maxAge,
    };
  }

  clearCookieOptions(): CookieSerializeOptions {
    return { httpOnly: true, secure: this.secure, sameSite: 'strict', path: '/' };
  }
}
