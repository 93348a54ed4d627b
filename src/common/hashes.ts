import { hash, timingSafeEqual } from 'node:crypto';

/**
 * base64url SHA-256 of a value: what tokens and stores hold instead of the secret itself.
 * One-shot `crypto.hash` (Node 20.12+): a few times cheaper than a Hash object, and every guarded
 * request hashes its fingerprint cookie.
 */
export function sha256(value: string): string {
  return hash('sha256', value, 'base64url');
}

/**
 * Whether `value`'s SHA-256 is the one `expected` names (base64url), in constant time. Compared as
 * bytes: the digest is never encoded and no buffer is made of either text's characters (every
 * guarded request checks its fingerprint cookie so). `expected` must still be compared as text
 * where its exact spelling matters: a 43-character base64url text whose last character carries
 * bits 32 bytes cannot have decodes to the same bytes as the canonical one.
 */
export function sha256Matches(value: string, expected: string): boolean {
  const claimed = Buffer.from(expected, 'base64url');
  return claimed.length === 32 && timingSafeEqual(hash('sha256', value, 'buffer'), claimed);
}

/** Compares two strings without an early exit on the first differing byte. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
