import { createSecretKey } from 'node:crypto';
import { VerifiedTokenCache } from './verified-token-cache';

const key = createSecretKey(Buffer.from('a secret that is long enough for hs256 0123456789'));
const other = createSecretKey(Buffer.from('another secret, just as long, for hs256 0123456789'));

describe('VerifiedTokenCache', () => {
  it('remembers a decoded token and its key until its exp, then forgets it', () => {
    const cache = new VerifiedTokenCache();
    const decoded = { header: {}, payload: { sub: 'u', exp: 1_000 } };
    cache.set('token', decoded, key);
    expect(cache.get('token', 999_999)).toEqual({ decoded, key });
    expect(cache.get('token', 1_000_000)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.get('other', 0)).toBeUndefined();
  });

  it('keeps the key that verified the token (the caller checks it is still accepted)', () => {
    const cache = new VerifiedTokenCache();
    cache.set('a', { payload: { exp: 10 } }, key);
    cache.set('b', { payload: { exp: 10 } }, other);
    expect(cache.get('a', 0)?.key).toBe(key);
    expect(cache.get('b', 0)?.key).toBe(other);
  });

  it('never remembers a token without a numeric exp', () => {
    const cache = new VerifiedTokenCache();
    cache.set('a', { payload: { sub: 'u' } }, key);
    cache.set('b', { payload: { exp: '2000' } }, key);
    cache.set('c', null, key);
    expect(cache.size).toBe(0);
  });

  it('keeps at most its capacity, dropping the oldest first', () => {
    const cache = new VerifiedTokenCache(2);
    for (const token of ['one', 'two', 'three']) cache.set(token, { exp: 10 }, key);
    expect(cache.size).toBe(2);
    expect(cache.get('one', 0)).toBeUndefined();
    expect(cache.get('three', 0)?.decoded).toEqual({ exp: 10 });
  });

  it('finds a token only by its whole text, also beside one with the same signature segment', () => {
    const cache = new VerifiedTokenCache();
    cache.set('header.payload.signature', { exp: 10 }, key);
    expect(cache.get('header.payload.signature', 0)?.decoded).toEqual({ exp: 10 });
    expect(cache.get('header.forged.signature', 0)).toBeUndefined();
    expect(cache.get('signature', 0)).toBeUndefined();
    expect(cache.get('header.payload.signaturf', 0)).toBeUndefined();
    // A second token with that signature is not remembered over the first.
    cache.set('other.payload.signature', { exp: 20 }, other);
    expect(cache.get('other.payload.signature', 0)).toBeUndefined();
    expect(cache.get('header.payload.signature', 0)?.key).toBe(key);
    expect(cache.size).toBe(1);
  });

  it('is one per instance: two caches share nothing', () => {
    const first = new VerifiedTokenCache();
    const second = new VerifiedTokenCache();
    first.set('token', { exp: 10 }, key);
    expect(second.get('token', 0)).toBeUndefined();
  });
});
