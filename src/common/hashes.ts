import { hash, timingSafeEqual } from 'node:crypto';

/**
 * base64url SHA-256 of a value: what tokens and stores hold instead of the secret itself.
 * One-shot `crypto.hash` (Node 20.12+): a few times cheaper than a Hash object, and every guarded
 * request hashes its fingerprint cookie.
 */
export function sha256(value: string): string {
  return hash('sha256', value, 'base64url');
}

/** Compares two strings without an early exit on the first differing byte. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
