import { createHash } from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { startApp, TestApp } from '../support/app';
import { signedInClient, TestClient } from '../support/client';

const PASSWORD = 'correct horse battery staple';
const UNAUTHORIZED = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'Invalid or missing credentials',
};
const FINGERPRINT = /^[A-Za-z0-9_-]{43}$/;
const uniqueEmail = () => `fgp-${Math.random().toString(36).slice(2)}@example.com`;
const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

const setCookies = (headers: Record<string, unknown>): string[] =>
  ([] as string[]).concat((headers['set-cookie'] as string | string[] | undefined) ?? []);

/** The fingerprint cookie's value in a Set-Cookie list. */
const fingerprintIn = (headers: Record<string, unknown>, name = '__Host-Fgp'): string | undefined =>
  setCookies(headers)
    .find((cookie) => cookie.startsWith(`${name}=`))
    ?.split(';')[0]
    .slice(name.length + 1);

describe('fingerprint cookie (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(() => target.close());

  describe('a stolen token with the wrong cookie', () => {
    let victim: TestClient;
    let token: string;
    let fingerprint: string;

    beforeAll(async () => {
      victim = await signedInClient(target);
      token = victim.accessToken as string;
      fingerprint = victim.cookies.get('__Host-Fgp')?.value as string;
    });

    const me = (cookie?: string) =>
      target.inject({
        method: 'GET',
        url: '/auth/me',
        headers: { authorization: `Bearer ${token}`, ...(cookie === undefined ? {} : { cookie }) },
      });

    it('works with the right cookie (the harness works)', async () => {
      expect((await me(`__Host-Fgp=${fingerprint}`)).statusCode).toBe(200);
    });

    it('is refused without the cookie', async () => {
      const response = await me();
      expect({ status: response.statusCode, body: response.json() }).toEqual({
        status: 401,
        body: UNAUTHORIZED,
      });
    });

    it("is refused with another session's cookie, of the same user or another", async () => {
      const sameUser = new TestClient(target);
      const email = (await victim.get('/auth/me')).json().email as string;
      await sameUser.login(email, PASSWORD);
      const otherUser = await signedInClient(target);
      for (const client of [sameUser, otherUser]) {
        const response = await me(`__Host-Fgp=${client.cookies.get('__Host-Fgp')?.value}`);
        expect({ status: response.statusCode, body: response.json() }).toEqual({
          status: 401,
          body: UNAUTHORIZED,
        });
      }
    });

    it("is refused with the token's own fgp claim (the hash) as the cookie", async () => {
      const claim = (jwt.decode(token) as jwt.JwtPayload).fgp as string;
      expect(claim).toBe(sha256(fingerprint));
      expect((await me(`__Host-Fgp=${claim}`)).statusCode).toBe(401);
    });

    it('is refused with the cookie altered in case, whitespace or encoding', async () => {
      const swapCase = [...fingerprint]
        .map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()))
        .join('');
      const percentEncoded = [...fingerprint]
        .map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
        .join('');
      const cases: Array<[string, string]> = [
        ['upper case', fingerprint.toUpperCase()],
        ['swapped case', swapCase],
        ['a space inside', `${fingerprint.slice(0, 20)} ${fingerprint.slice(20)}`],
        ['a tab inside', `${fingerprint.slice(0, 20)}\t${fingerprint.slice(20)}`],
        ['fully URL-encoded', percentEncoded],
        [
          'one character URL-encoded',
          `%${fingerprint.charCodeAt(0).toString(16)}${fingerprint.slice(1)}`,
        ],
        ['quoted', `"${fingerprint}"`],
        ['single-quoted', `'${fingerprint}'`],
        ['standard base64 alphabet', fingerprint.replace(/-/g, '+').replace(/_/g, '/') + '='],
        ['one character short', fingerprint.slice(0, -1)],
        ['one character more', `${fingerprint}A`],
        ['twice', fingerprint.repeat(2)],
      ];
      for (const [name, value] of cases) {
        if (value === fingerprint) continue; // e.g. no '-' or '_' to swap: not an alteration
        const response = await me(`__Host-Fgp=${value}`);
        expect({ name, status: response.statusCode }).toEqual({ name, status: 401 });
      }
    });

    it('reads the cookie as the RFC 6265 parser does: surrounding blanks are no part of it', async () => {
      expect((await me(`__Host-Fgp=  ${fingerprint}  `)).statusCode).toBe(200);
    });

    it('is refused under another cookie name, or with the value in another cookie', async () => {
      for (const cookie of [
        `fgp=${fingerprint}`,
        `__host-fgp=${fingerprint}`,
        `__Host-Fgp_=${fingerprint}`,
        `__Secure-Fpa-Refresh=${fingerprint}`,
      ]) {
        expect({ cookie, status: (await me(cookie)).statusCode }).toEqual({ cookie, status: 401 });
      }
    });

    it('takes the first of two same-named cookies: a planted one in front does not mix', async () => {
      const planted = 'A'.repeat(43);
      expect((await me(`__Host-Fgp=${planted}; __Host-Fgp=${fingerprint}`)).statusCode).toBe(401);
    });
  });

  describe('session fixation', () => {
    it('ignores a cookie the attacker chose and sets a fresh one that alone works', async () => {
      const email = uniqueEmail();
      const planted = 'P'.repeat(43);
      await new TestClient(target).register(email, PASSWORD);
      const login = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
        headers: { cookie: `__Host-Fgp=${planted}` },
      });
      expect(login.statusCode).toBe(200);
      const fresh = fingerprintIn(login.headers) as string;
      expect(fresh).toMatch(FINGERPRINT);
      expect(fresh).not.toBe(planted);
      const { accessToken } = login.json() as { accessToken: string };
      expect((jwt.decode(accessToken) as jwt.JwtPayload).fgp).toBe(sha256(fresh));
      const withPlanted = await target.inject({
        method: 'GET',
        url: '/auth/me',
        headers: { authorization: `Bearer ${accessToken}`, cookie: `__Host-Fgp=${planted}` },
      });
      expect(withPlanted.statusCode).toBe(401);
      const withFresh = await target.inject({
        method: 'GET',
        url: '/auth/me',
        headers: { authorization: `Bearer ${accessToken}`, cookie: `__Host-Fgp=${fresh}` },
      });
      expect(withFresh.statusCode).toBe(200);
    });
  });

  describe('randomness', () => {
    it('hands out 1,000 distinct fingerprints of full length (43 base64url characters)', async () => {
      const client = await signedInClient(target);
      const seen = new Set<string>([client.cookies.get('__Host-Fgp')?.value as string]);
      // Each refresh rotates the fingerprint: 999 more from the service, without 999 argon2 runs.
      for (let i = 0; i < 999; i++) {
        const response = await client.refresh();
        expect(response.statusCode).toBe(200);
        seen.add(fingerprintIn(response.headers) as string);
      }
      expect(seen.size).toBe(1000);
      for (const value of seen) expect(value).toMatch(FINGERPRINT);
      // 32 random bytes: every base64url character shows up, none dominates.
      const counts = new Map<string, number>();
      for (const value of seen) for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
      expect(counts.size).toBe(64);
      expect(Math.max(...counts.values())).toBeLessThan((43_000 / 64) * 1.5);
    });
  });

  describe('cookie attributes', () => {
    it('sets exactly HttpOnly, Secure, SameSite=Strict, Path=/ and Max-Age, no Domain', async () => {
      const email = uniqueEmail();
      await new TestClient(target).register(email, PASSWORD);
      const login = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      });
      const cookie = setCookies(login.headers).find((c) => c.startsWith('__Host-Fgp=')) as string;
      const [pair, ...attributes] = cookie.split('; ');
      expect(pair).toMatch(/^__Host-Fgp=[A-Za-z0-9_-]{43}$/);
      expect(attributes.sort()).toEqual(
        ['HttpOnly', 'Max-Age=900', 'Path=/', 'SameSite=Strict', 'Secure'].sort(),
      );
      const refresh = setCookies(login.headers).find((c) =>
        c.startsWith('__Secure-Fpa-Refresh='),
      ) as string;
      const [, ...refreshAttributes] = refresh.split('; ');
      expect(refreshAttributes.sort()).toEqual(
        ['HttpOnly', 'Max-Age=28800', 'Path=/auth/refresh', 'SameSite=Strict', 'Secure'].sort(),
      );
    });
  });
});

// Its own app after the one above is closed: Passport keeps one JWT strategy per process.
describe('fingerprint cookie (e2e) with COOKIE_SECURE=false', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ COOKIE_SECURE: 'false', ACCESS_TOKEN_TTL: '5m' });
  });

  afterAll(() => target.close());

  it('names it fgp and drops only Secure; the __Host- name is then refused', async () => {
    const email = uniqueEmail();
    await new TestClient(target).register(email, PASSWORD);
    const login = await target.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: PASSWORD },
    });
    const cookie = setCookies(login.headers).find((c) => c.startsWith('fgp=')) as string;
    const [, ...attributes] = cookie.split('; ');
    expect(attributes.sort()).toEqual(['HttpOnly', 'Max-Age=300', 'Path=/', 'SameSite=Strict']);
    const value = fingerprintIn(login.headers, 'fgp') as string;
    const { accessToken } = login.json() as { accessToken: string };
    const as = (cookieHeader: string) =>
      target.inject({
        method: 'GET',
        url: '/auth/me',
        headers: { authorization: `Bearer ${accessToken}`, cookie: cookieHeader },
      });
    expect((await as(`fgp=${value}`)).statusCode).toBe(200);
    expect((await as(`__Host-Fgp=${value}`)).statusCode).toBe(401);
  });
});
