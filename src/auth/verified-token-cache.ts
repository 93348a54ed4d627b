import { Strategy } from 'passport-jwt';

/** passport-jwt's verifier: `jsonwebtoken.verify` with a callback (it answers synchronously). */
type Verifier = (
  token: string,
  secretOrKey: unknown,
  options: object,
  done: (error: Error | null, decoded?: unknown) => void,
) => void;

/** Tokens whose verification one strategy remembers; the oldest go first beyond this. */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/**
 * Access tokens already verified by one strategy, with what verification returned and when they
 * expire. A token is a fixed string: the same text, checked with the same key and options, always
 * gets the same answer, except for the passing of time, so a remembered token is still refused once
 * its `exp` has passed. Only successful verifications are remembered, and only by their full text
 * (header, payload and signature): a token differing in one character is verified afresh.
 * The fingerprint cookie and the session are still checked on every request; this skips only the
 * HMAC and the parsing of a token this process has already seen (an SPA sends the same one until
 * it refreshes), as fast-jwt's verifier cache does.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { decoded: unknown; exp: number }>();

  constructor(private readonly capacity = VERIFIED_TOKEN_CACHE_SIZE) {}

  /** What verifying `token` returned, while its `exp` (seconds) is still ahead of `nowMs`. */
  get(token: string, nowMs: number): unknown {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    // jsonwebtoken's own rule: expired once the clock reaches `exp`.
    if (Math.floor(nowMs / 1000) >= entry.exp) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.decoded;
  }

  /** Remembers a successful verification; a token without a numeric `exp` is never remembered. */
  set(token: string, decoded: unknown): void {
    const exp = expiryOf(decoded);
    if (exp === undefined) return;
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(token, { decoded, exp });
  }

  get size(): number {
    return this.entries.size;
  }
}

/** `exp` of a decoded token (`complete: true` nests the claims under `payload`). */
function expiryOf(decoded: unknown): number | undefined {
  if (typeof decoded !== 'object' || decoded === null) return undefined;
  const claims = 'payload' in decoded ? (decoded as { payload: unknown }).payload : decoded;
  const exp = (claims as { exp?: unknown } | null)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
}

/** Caches by verification key: each strategy has its own key object, hence its own cache. */
const cachesByKey = new WeakMap<object, VerifiedTokenCache>();

type StrategyWithVerifier = typeof Strategy & { JwtVerifier: Verifier };

/**
 * Has passport-jwt remember the tokens it verifies with `key` (see `VerifiedTokenCache`).
 * passport-jwt verifies through the replaceable `Strategy.JwtVerifier`; it is wrapped once per
 * process, and tokens verified with any key that was not registered here go straight through.
 */
export function cacheVerifiedTokens(
  key: object,
  cache = new VerifiedTokenCache(),
): VerifiedTokenCache {
  const strategy = Strategy as StrategyWithVerifier;
  if (!(strategy.JwtVerifier as { cached?: true }).cached) {
    const verify = strategy.JwtVerifier;
    const cached: Verifier = (token, secretOrKey, options, done) => {
      const known =
        typeof secretOrKey === 'object' && secretOrKey !== null
          ? cachesByKey.get(secretOrKey)
          : undefined;
      if (known === undefined) return verify(token, secretOrKey, options, done);
      const decoded = known.get(token, Date.now());
      if (decoded !== undefined) return done(null, decoded);
      verify(token, secretOrKey, options, (error, result) => {
        if (error === null) known.set(token, result);
        done(error, result);
      });
    };
    strategy.JwtVerifier = Object.assign(cached, { cached: true as const });
  }
  cachesByKey.set(key, cache);
  return cache;
}
