import { createSecretKey, KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Strategy } from 'passport-jwt';
import { cacheVerifiedTokens, VerifiedTokenCache } from './verified-token-cache';

type Verify = (
  token: string,
  key: unknown,
  options: object,
  done: (error: Error | null, decoded?: unknown) => void,
) => void;

const OPTIONS = { algorithms: ['HS256'], complete: true };
const keyOf = (secret: string): KeyObject => createSecretKey(Buffer.from(secret));

/** Verifies through passport-jwt's verifier, as the strategy does. */
function verify(token: string, key: KeyObject): { error: Error | null; decoded?: unknown } {
  let outcome: { error: Error | null; decoded?: unknown } = { error: new Error('no answer') };
  (Strategy as unknown as { JwtVerifier: Verify }).JwtVerifier(token, key, OPTIONS, (e, d) => {
    outcome = { error: e, decoded: d };
  });
  return outcome;
}

describe('VerifiedTokenCache', () => {
  it('remembers a decoded token until its exp, then forgets it', () => {
    const cache = new VerifiedTokenCache();
    const decoded = { header: {}, payload: { sub: 'u', exp: 1_000 } };
    cache.set('token', decoded);
    expect(cache.get('token', 999_999)).toBe(decoded);
    expect(cache.get('token', 1_000_000)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.get('other', 0)).toBeUndefined();
  });

  it('never remembers a token without a numeric exp', () => {
    const cache = new VerifiedTokenCache();
    cache.set('a', { payload: { sub: 'u' } });
    cache.set('b', { payload: { exp: '2000' } });
    cache.set('c', null);
    expect(cache.size).toBe(0);
  });

  it('keeps at most its capacity, dropping the oldest first', () => {
    const cache = new VerifiedTokenCache(2);
    for (const token of ['one', 'two', 'three']) cache.set(token, { exp: 10 });
    expect(cache.size).toBe(2);
    expect(cache.get('one', 0)).toBeUndefined();
    expect(cache.get('three', 0)).toEqual({ exp: 10 });
  });
});

describe('cacheVerifiedTokens (through passport-jwt)', () => {
  const secret = 'a secret that is long enough for hs256 0123456789';
  let key: KeyObject;
  let cache: VerifiedTokenCache;

  beforeEach(() => {
    key = keyOf(secret);
    cache = cacheVerifiedTokens(key);
  });

  afterEach(() => jest.restoreAllMocks());

  it('answers a token it verified before exactly as jsonwebtoken did', () => {
    const token = jwt.sign({ sub: 'u', sid: 's' }, secret, { algorithm: 'HS256', expiresIn: 60 });
    const first = verify(token, key);
    expect(first.error).toBeNull();
    expect(cache.size).toBe(1);
    expect(verify(token, key)).toEqual(first);
  });

  it('refuses a remembered token once it has expired', () => {
    const token = jwt.sign({ sub: 'u' }, secret, { algorithm: 'HS256', expiresIn: 60 });
    expect(verify(token, key).error).toBeNull();
    const later = Date.now() + 61_000;
    jest.spyOn(Date, 'now').mockReturnValue(later);
    expect(verify(token, key).error?.name).toBe('TokenExpiredError');
  });

  it('verifies afresh a token that differs in one character, and remembers no failure', () => {
    const token = jwt.sign({ sub: 'u' }, secret, { algorithm: 'HS256', expiresIn: 60 });
    expect(verify(token, key).error).toBeNull();
    const last = token.slice(-1);
    const tampered = token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    expect(verify(tampered, key).error?.message).toBe('invalid signature');
    expect(verify(tampered, key).error?.message).toBe('invalid signature');
    expect(cache.size).toBe(1);
  });

  it("never lets one key's remembered token pass for another key", () => {
    const other = keyOf('another secret, just as long, for hs256 0123456789');
    cacheVerifiedTokens(other);
    const token = jwt.sign({ sub: 'u' }, secret, { algorithm: 'HS256', expiresIn: 60 });
    expect(verify(token, key).error).toBeNull();
    expect(verify(token, other).error?.message).toBe('invalid signature');
    // A key nobody registered goes straight to jsonwebtoken, every time.
    expect(
      verify(token, keyOf('unregistered secret for hs256 000000000000000')).error?.message,
    ).toBe('invalid signature');
  });

  it('remembers nothing for a token without exp, which jsonwebtoken accepts but the strategy refuses later', () => {
    const token = jwt.sign({ sub: 'u' }, secret, { algorithm: 'HS256' });
    expect(verify(token, key).error).toBeNull();
    expect(cache.size).toBe(0);
  });
});
