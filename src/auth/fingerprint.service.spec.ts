import { createHash } from 'node:crypto';
import { validateEnv } from '../config';
import { FingerprintService } from './fingerprint.service';
import { safeEqual, sha256 } from '../common/hashes';

const serviceWith = (raw: Record<string, string> = {}) =>
  new FingerprintService(
    validateEnv({ JWT_SECRET: 'fingerprint-spec-secret-0123456789abcdef', ...raw }),
  );

describe('FingerprintService', () => {
  const fingerprints = serviceWith();

  it('draws 32 random bytes as 43 base64url characters, never twice the same', () => {
    const drawn = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const value = fingerprints.draw();
      expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(value, 'base64url')).toHaveLength(32);
      drawn.add(value);
    }
    expect(drawn.size).toBe(1000);
  });

  it('hashes with SHA-256, base64url', () => {
    const value = fingerprints.draw();
    expect(fingerprints.hash(value)).toBe(createHash('sha256').update(value).digest('base64url'));
    expect(sha256(value)).toHaveLength(43);
  });

  it('matches only the cookie whose hash is the claim', () => {
    const cookie = fingerprints.draw();
    const claim = fingerprints.hash(cookie);
    expect(fingerprints.matches(cookie, claim)).toBe(true);
    expect(fingerprints.matches(fingerprints.draw(), claim)).toBe(false);
    expect(fingerprints.matches(undefined, claim)).toBe(false);
    expect(fingerprints.matches(claim, claim)).toBe(false);
    expect(fingerprints.matches(` ${cookie}`, claim)).toBe(false);
    expect(fingerprints.matches(cookie.toUpperCase(), claim)).toBe(cookie === cookie.toUpperCase());
    expect(fingerprints.matches(cookie, claim.slice(1))).toBe(false);
    // Claims that are not 32 bytes of base64url, however long their text.
    expect(fingerprints.matches(cookie, `${claim}AAAA`)).toBe(false);
    expect(fingerprints.matches(cookie, '!'.repeat(43))).toBe(false);
    expect(fingerprints.matches(cookie, Buffer.from(claim, 'base64url').toString('hex'))).toBe(
      false,
    );
  });

  it('compares strings of any length safely', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });

  it('uses a __Host- cookie with hardened attributes, lasting as long as the token', () => {
    expect(fingerprints.cookieName).toBe('__Host-Fgp');
    expect(fingerprints.cookieOptions()).toEqual({
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      path: '/',
      maxAge: 900,
    });
  });

  it('drops the prefix and Secure only when COOKIE_SECURE=false', () => {
    const insecure = serviceWith({ COOKIE_SECURE: 'false', ACCESS_TOKEN_TTL: '5m' });
    expect(insecure.cookieName).toBe('fgp');
    expect(insecure.cookieOptions()).toMatchObject({ secure: false, httpOnly: true, maxAge: 300 });
  });
});
