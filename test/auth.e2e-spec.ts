import { createHash } from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import passport from 'passport';
import { startApp, TEST_SECRET, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';

const PASSWORD = 'correct horse battery staple';
const UNAUTHORIZED = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'Invalid or missing credentials',
};
const uniqueEmail = () => `u-${Math.random().toString(36).slice(2)}@example.com`;
/** The Cookie header that carries a signed-in client's fingerprint, and nothing else. */
const fingerprintCookie = (client: TestClient) =>
  `__Host-Fgp=${client.cookies.get('__Host-Fgp')?.value}`;

describe('auth (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(async () => {
    await target.close();
  });

  describe('POST /auth/register', () => {
    it('creates an account with a normalised email and no secret in the answer', async () => {
      const client = new TestClient(target);
      const response = await client.register('  Bob@Example.COM ', PASSWORD, 'Bob');
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body).toEqual({
        id: expect.any(String),
        email: 'bob@example.com',
        displayName: 'Bob',
        createdAt: expect.any(String),
      });
      expect(new Date(body.createdAt).toISOString()).toBe(body.createdAt);
      expect(response.body).not.toContain(PASSWORD);
      expect(response.body).not.toContain('argon2');
    });

    it('answers 409 for an email taken in any case', async () => {
      const email = uniqueEmail();
      const client = new TestClient(target);
      expect((await client.register(email, PASSWORD)).statusCode).toBe(201);
      const again = await client.register(email.toUpperCase(), PASSWORD);
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({
        statusCode: 409,
        error: 'Conflict',
        code: 'EMAIL_TAKEN',
      });
    });

    it.each([
      ['a short password', { email: 'x@example.com', password: 'short' }],
      ['a password over 128 characters', { email: 'x@example.com', password: 'p'.repeat(129) }],
      ['a bad email', { email: 'not-an-email', password: PASSWORD }],
      ['an over-long email', { email: `${'a'.repeat(250)}@example.com`, password: PASSWORD }],
      ['an unknown field', { email: 'x@example.com', password: PASSWORD, role: 'admin' }],
      ['a password of the wrong type', { email: 'x@example.com', password: 12345678 }],
      ['an operator object', { email: 'x@example.com', password: { $ne: '' } }],
      ['an empty body', {}],
      [
        'an over-long display name',
        { email: 'x@example.com', password: PASSWORD, displayName: 'd'.repeat(101) },
      ],
    ])('rejects %s with 400 and stores nothing', async (_, payload) => {
      const response = await target.inject({ method: 'POST', url: '/auth/register', payload });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(response.body).not.toMatch(/at .*\.ts:\d+|stack/i);
      const login = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'x@example.com', password: PASSWORD },
      });
      expect(login.statusCode).toBe(401);
    });

    it('rejects malformed JSON, top-level null and __proto__ keys with 400', async () => {
      const send = (payload: string) =>
        target.inject({
          method: 'POST',
          url: '/auth/register',
          payload,
          headers: { 'content-type': 'application/json' },
        });
      expect((await send('{"email": ')).statusCode).toBe(400);
      expect((await send('null')).statusCode).toBe(400);
      const email = uniqueEmail();
      const poisoned = await send(
        `{"email":"${email}","password":"${PASSWORD}","__proto__":{"polluted":true}}`,
      );
      expect(poisoned.statusCode).toBe(400);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const stored = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      });
      expect(stored.statusCode).toBe(401);
    });
  });

  describe('POST /auth/login', () => {
    it('returns the token body, sets hardened cookies and forbids caching', async () => {
      const email = uniqueEmail();
      const client = new TestClient(target);
      await client.register(email, PASSWORD);
      const response = await client.post('/auth/login', { email, password: PASSWORD });
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      const body = response.json();
      expect(body).toEqual({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: 900,
        sessionId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
        sessionExpiresAt: expect.any(String),
      });

      const setCookie = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
      const fingerprintCookie = setCookie.find((cookie) => cookie.startsWith('__Host-Fgp='));
      expect(fingerprintCookie).toMatch(
        /^__Host-Fgp=[A-Za-z0-9_-]{43}; Max-Age=900; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
      );
      const refreshCookie = setCookie.find((cookie) => cookie.startsWith('__Secure-Fpa-Refresh='));
      expect(refreshCookie).toMatch(
        /^__Secure-Fpa-Refresh=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/auth\/refresh; HttpOnly; Secure; SameSite=Strict$/,
      );

      const fingerprint = /^__Host-Fgp=([^;]+)/.exec(fingerprintCookie as string)?.[1] as string;
      const decoded = jwt.verify(body.accessToken, TEST_SECRET, {
        algorithms: ['HS256'],
      }) as jwt.JwtPayload;
      expect(decoded).toMatchObject({
        sid: body.sessionId,
        fgp: createHash('sha256').update(fingerprint).digest('base64url'),
        iss: 'fingerprint-auth',
      });
      expect(decoded.exp! - decoded.iat!).toBe(900);
      expect(JSON.stringify(decoded)).not.toContain(fingerprint);
    });

    it('gives an unknown email and a wrong password the same answer', async () => {
      const email = uniqueEmail();
      await new TestClient(target).register(email, PASSWORD);
      const wrong = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: 'not the password' },
      });
      const unknown = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: uniqueEmail(), password: 'not the password' },
      });
      expect(wrong.statusCode).toBe(401);
      expect(unknown.statusCode).toBe(401);
      expect(wrong.json()).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Invalid email or password',
      });
      expect(unknown.body).toBe(wrong.body);
      expect(wrong.headers['set-cookie']).toBeUndefined();
    });

    it('never adopts a fingerprint the client brings', async () => {
      const email = uniqueEmail();
      const client = new TestClient(target);
      await client.register(email, PASSWORD);
      const planted = 'A'.repeat(43);
      const response = await client.post(
        '/auth/login',
        { email, password: PASSWORD },
        { cookie: `__Host-Fgp=${planted}` },
      );
      expect(response.statusCode).toBe(200);
      const cookie = ([] as string[])
        .concat(response.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith('__Host-Fgp='));
      expect(cookie).toBeDefined();
      expect(cookie).not.toContain(planted);
    });
  });

  describe('guarded routes', () => {
    it('GET /auth/me answers with the caller and the session', async () => {
      const client = await signedInClient(target, 'Me@Example.com');
      const me = await client.get('/auth/me');
      expect(me.statusCode).toBe(200);
      expect(me.json()).toEqual({
        id: expect.any(String),
        email: 'me@example.com',
        displayName: null,
        sessionId: client.sessionId,
      });
    });

    it('gives every kind of bad credential the same 401', async () => {
      const client = await signedInClient(target);
      const other = await signedInClient(target);
      const token = client.accessToken as string;
      const cookie = fingerprintCookie(client);
      const otherCookie = fingerprintCookie(other);
      const claims = jwt.decode(token) as jwt.JwtPayload;
      const now = Math.floor(Date.now() / 1000);
      const forged = (payload: object, secret = TEST_SECRET, options: jwt.SignOptions = {}) =>
        jwt.sign(payload, secret, { algorithm: 'HS256', ...options });
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
        JSON.stringify(claims),
      ).toString('base64url')}.`;

      const cases: Array<[string, Record<string, string>]> = [
        ['no token, no cookie', {}],
        ['no token', { cookie }],
        ['token without cookie', { authorization: `Bearer ${token}` }],
        ['cookie of another session', { authorization: `Bearer ${token}`, cookie: otherCookie }],
        ['malformed token', { authorization: 'Bearer not.a.token', cookie }],
        ['wrong scheme', { authorization: `Basic ${token}`, cookie }],
        [
          'wrong signature',
          {
            authorization: `Bearer ${forged(claims, 'another-secret-another-secret-0000')}`,
            cookie,
          },
        ],
        ['alg none', { authorization: `Bearer ${unsigned}`, cookie }],
        [
          'expired',
          {
            authorization: `Bearer ${forged({ ...claims, iat: now - 1000, exp: now - 10 })}`,
            cookie,
          },
        ],
        [
          'wrong issuer',
          { authorization: `Bearer ${forged({ ...claims, iss: 'someone-else' })}`, cookie },
        ],
        [
          'tampered subject',
          { authorization: `Bearer ${forged({ ...claims, sub: 'another-user' })}`, cookie },
        ],
        [
          'no expiry',
          {
            authorization: `Bearer ${forged({ sub: claims.sub, sid: claims.sid, fgp: claims.fgp, iss: claims.iss })}`,
            cookie,
          },
        ],
      ];
      for (const [name, headers] of cases) {
        const response = await target.inject({ method: 'GET', url: '/auth/me', headers });
        expect({ name, status: response.statusCode, body: response.json() }).toEqual({
          name,
          status: 401,
          body: UNAUTHORIZED,
        });
      }
    });

    it('checks a token it has verified before as fully as a new one, without passport', async () => {
      const client = await signedInClient(target);
      const other = await signedInClient(target);
      const token = client.accessToken as string;
      const cookie = fingerprintCookie(client);
      const otherCookie = fingerprintCookie(other);
      const me = (headers: Record<string, string>) =>
        target.inject({ method: 'GET', url: '/auth/me', headers });
      // The first request verifies the token through passport and passport-jwt.
      const throughPassport = jest.spyOn(passport, 'authenticate');
      try {
        expect((await me({ authorization: `Bearer ${token}`, cookie })).statusCode).toBe(200);
        expect(throughPassport).toHaveBeenCalledTimes(1);
        // From then on the guard runs the same checks itself: fingerprint, session, user.
        expect((await me({ authorization: `Bearer ${token}`, cookie })).statusCode).toBe(200);
        const refusals: Array<Record<string, string>> = [
          { authorization: `Bearer ${token}` },
          { authorization: `Bearer ${token}`, cookie: otherCookie },
        ];
        for (const headers of refusals) {
          const refused = await me(headers);
          expect({ status: refused.statusCode, body: refused.json() }).toEqual({
            status: 401,
            body: UNAUTHORIZED,
          });
        }
        expect((await client.post('/auth/logout')).statusCode).toBe(204);
        const revoked = await me({ authorization: `Bearer ${token}`, cookie });
        expect({ status: revoked.statusCode, body: revoked.json() }).toEqual({
          status: 401,
          body: UNAUTHORIZED,
        });
        expect(throughPassport).toHaveBeenCalledTimes(1);
      } finally {
        throughPassport.mockRestore();
      }
    });

    it('POST /auth/logout revokes the session and clears the cookies', async () => {
      const client = await signedInClient(target);
      const token = client.accessToken as string;
      const cookie = fingerprintCookie(client);
      const response = await client.post('/auth/logout');
      expect(response.statusCode).toBe(204);
      const cleared = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
      expect(cleared).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /^__Host-Fgp=; Max-Age=0; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Strict$|^__Host-Fgp=;.*Max-Age=0/,
          ),
          expect.stringMatching(/^__Secure-Fpa-Refresh=;.*Path=\/auth\/refresh/),
        ]),
      );
      // The token is not expired, and the old cookie is kept by an attacker: still 401.
      const replay = await target.inject({
        method: 'GET',
        url: '/auth/me',
        headers: { authorization: `Bearer ${token}`, cookie },
      });
      expect(replay.statusCode).toBe(401);
    });

    it('answers unknown routes with 404, never a stack trace', async () => {
      const client = await signedInClient(target);
      const response = await client.get('/does-not-exist');
      expect([401, 404]).toContain(response.statusCode);
      expect(response.body).not.toMatch(/\.ts:\d+/);
    });
  });

  describe('POST /auth/password', () => {
    it('changes the password, keeps this session and ends every other one', async () => {
      const email = uniqueEmail();
      const laptop = await signedInClient(target, email);
      const phone = new TestClient(target);
      await phone.login(email, PASSWORD);

      const response = await laptop.post('/auth/password', {
        currentPassword: PASSWORD,
        newPassword: 'a brand new passphrase',
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ revoked: 1 });
      expect((await laptop.get('/auth/me')).statusCode).toBe(200);
      expect((await phone.get('/auth/me')).statusCode).toBe(401);

      const old = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      });
      expect(old.statusCode).toBe(401);
      await expect(
        new TestClient(target).login(email, 'a brand new passphrase'),
      ).resolves.toBeDefined();
    });

    it('refuses a wrong current password (403) and a weak new one (400), changing nothing', async () => {
      const email = uniqueEmail();
      const client = await signedInClient(target, email);
      const phone = new TestClient(target);
      await phone.login(email, PASSWORD);
      const wrong = await client.post('/auth/password', {
        currentPassword: 'not it at all',
        newPassword: 'another passphrase',
      });
      // Not a 401: front ends read that as "signed out", and the caller is still signed in.
      expect({ status: wrong.statusCode, body: wrong.json() }).toEqual({
        status: 403,
        body: {
          statusCode: 403,
          error: 'Forbidden',
          message: 'The current password is incorrect',
          code: 'CURRENT_PASSWORD_INCORRECT',
        },
      });
      expect((await client.get('/auth/me')).statusCode).toBe(200);
      expect((await phone.get('/auth/me')).statusCode).toBe(200);
      const weak = await client.post('/auth/password', {
        currentPassword: PASSWORD,
        newPassword: 'short',
      });
      expect(weak.statusCode).toBe(400);
      await expect(new TestClient(target).login(email, PASSWORD)).resolves.toBeDefined();
    });
  });
});
