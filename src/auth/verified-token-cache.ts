import type { KeyObject } from 'node:crypto';

/** Tokens one strategy remembers having verified; the oldest go first beyond this. */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/** What verifying a token returned, and the key that verified it. */
export interface VerifiedToken {
  readonly decoded: unknown;
  readonly key: KeyObject;
}

/**
 * Access tokens one strategy has already verified: what verification returned, the key that
 * verified it and when the token expires. A token is a fixed string: the same text, checked with
 * the same key and options, always gets the same answer, except for the passing of time, so a
 * remembered token is still refused once its `exp` has passed (and its key is checked again by the
 * caller: a previous key's window may have closed). Only successful verifications are remembered,
 * and a token is found only by its full text (header, payload and signature): a token differing in
 * one character is verified afresh. Entries are filed under the signature alone (`signatureOf`),
 * whose 43 characters V8 hashes for the lookup instead of the token's few hundred (a new string on
 * every request, whose hash is never cached); the full text is then compared. The fingerprint
 * cookie and the session are still checked on every request; this skips only the HMAC and the
 * parsing of a token this process has already seen (an SPA sends the same one until it refreshes).
 * Each strategy has its own: nothing is shared between two module instances in one process.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity = VERIFIED_TOKEN_CACHE_SIZE) {}

  /** What verifying `token` returned, while its `exp` (seconds) is still ahead of `nowMs`. */
  get(token: string, nowMs: number): VerifiedToken | undefined {
    const signature = signatureOf(token);
    const entry = this.entries.get(signature);
    if (entry === undefined || entry.token !== token) return undefined;
    // jsonwebtoken's own rule: expired once the clock reaches `exp`.
    if (Math.floor(nowMs / 1000) >= entry.exp) {
      this.entries.delete(signature);
      return undefined;
    }
    return entry.verified;
  }

  /** Remembers a successful verification; a token without a numeric `exp` is never remembered. */
  set(token: string, decoded: unknown, key: KeyObject): void {
    const exp = expiryOf(decoded);
    const signature = signatureOf(token);
    if (exp === undefined || this.entries.has(signature)) return;
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(signature, { token, verified: { decoded, key }, exp });
  }

  get size(): number {
    return this.entries.size;
  }
}

interface Entry {
  readonly token: string;
  readonly verified: VerifiedToken;
  readonly exp: number;
}

/**
 * A compact JWS's last segment (its signature; the whole text when it has no dot). Two tokens
 * that share it but not their text cannot both have verified: a later one finds the first's entry,
 * fails the text comparison and is verified afresh (and, verified, not remembered).
 */
function signatureOf(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1);
}

/** `exp` of a decoded token (`complete: true` nests the claims under `payload`). */
function expiryOf(decoded: unknown): number | undefined {
  if (typeof decoded !== 'object' || decoded === null) return undefined;
  const claims = 'payload' in decoded ? (decoded as { payload: unknown }).payload : decoded;
  const exp = (claims as { exp?: unknown } | null)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
}
