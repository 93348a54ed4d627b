import { startApp, TestApp } from '../support/app';
import { signedInClient, TestClient } from '../support/client';

const PASSWORD = 'correct horse battery staple';
const uniqueEmail = () => `body-${Math.random().toString(36).slice(2)}@example.com`;
const json = { 'content-type': 'application/json' };

/** Whatever a request did, nothing may have leaked onto Object.prototype. */
function expectNoPollution(): void {
  const probe = {} as Record<string, unknown>;
  expect(probe.polluted).toBeUndefined();
  expect(probe.isAdmin).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
  expect(Object.prototype).not.toHaveProperty('isAdmin');
}

describe('hostile bodies (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(() => target.close());

  const send = (url: string, payload: string, headers: Record<string, string> = json) =>
    target.inject({ method: 'POST', url, payload, headers });
  const loginStatus = async (email: string, password = PASSWORD) =>
    (
      await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password },
      })
    ).statusCode;

  describe('POST /auth/register', () => {
    const cases: Array<[string, (email: string) => string, number]> = [
      [
        'an extra field',
        (e) => JSON.stringify({ email: e, password: PASSWORD, role: 'admin' }),
        400,
      ],
      // class-transformer leaves these out of the DTO instead of copying them: refused all the same.
      [
        'an extra field named like an inherited member',
        (e) => JSON.stringify({ email: e, password: PASSWORD, toString: 'x', hasOwnProperty: 1 }),
        400,
      ],
      [
        'a __proto__ key',
        (e) => `{"email":"${e}","password":"${PASSWORD}","__proto__":{"polluted":true}}`,
        400,
      ],
      [
        'a nested __proto__ key',
        (e) =>
          `{"email":"${e}","password":"${PASSWORD}","displayName":{"__proto__":{"isAdmin":true}}}`,
        400,
      ],
      [
        'constructor.prototype',
        (e) =>
          `{"email":"${e}","password":"${PASSWORD}","constructor":{"prototype":{"polluted":true}}}`,
        400,
      ],
      [
        'an operator object as password',
        (e) => JSON.stringify({ email: e, password: { $ne: '' } }),
        400,
      ],
      ['an array as email', (e) => JSON.stringify({ email: [e], password: PASSWORD }), 400],
      ['a number as password', (e) => JSON.stringify({ email: e, password: 12345678 }), 400],
      ['a boolean as password', (e) => JSON.stringify({ email: e, password: true }), 400],
      ['null fields', () => JSON.stringify({ email: null, password: null }), 400],
      [
        'an object as displayName',
        (e) => JSON.stringify({ email: e, password: PASSWORD, displayName: {} }),
        400,
      ],
      ['malformed JSON', (e) => `{"email":"${e}","password":`, 400],
      ['trailing garbage', (e) => `{"email":"${e}","password":"${PASSWORD}"}xyz`, 400],
      ['top-level null', () => 'null', 400],
      ['a top-level array', (e) => JSON.stringify([{ email: e, password: PASSWORD }]), 400],
      ['a top-level string', (e) => JSON.stringify(e), 400],
      ['a top-level number', () => '42', 400],
      ['an empty body', () => '', 400],
      ['an empty object', () => '{}', 400],
      [
        'deep nesting',
        (e) => `{"email":"${e}","password":${'['.repeat(2000)}${']'.repeat(2000)}}`,
        400,
      ],
      [
        'an oversize body',
        (e) => JSON.stringify({ email: e, password: PASSWORD, displayName: 'x'.repeat(10_000) }),
        413,
      ],
    ];

    it.each(cases)(
      'answers %s with its 4xx, stores nothing, pollutes nothing',
      async (_, body, status) => {
        const email = uniqueEmail();
        const response = await send('/auth/register', body(email));
        expect(response.statusCode).toBe(status);
        expect(response.json()).toMatchObject({ statusCode: status });
        expect(response.body).not.toMatch(/stack|\.ts:\d+|node_modules/);
        expectNoPollution();
        // Nothing stored: the email can still be registered, and was never loginable.
        expect(await loginStatus(email)).toBe(401);
        const later = await target.inject({
          method: 'POST',
          url: '/auth/register',
          payload: { email, password: PASSWORD },
        });
        expect(later.statusCode).toBe(201);
      },
    );
  });

  describe('POST /auth/login', () => {
    let email: string;

    beforeAll(async () => {
      email = uniqueEmail();
      await new TestClient(target).register(email, PASSWORD);
    });

    it.each([
      ['an operator object as password', () => JSON.stringify({ email, password: { $ne: '' } })],
      [
        'an operator object as email',
        () => JSON.stringify({ email: { $gt: '' }, password: PASSWORD }),
      ],
      ['a regex-like object', () => JSON.stringify({ email, password: { $regex: '.*' } })],
      ['an array password', () => JSON.stringify({ email, password: [PASSWORD] })],
      ['an extra field', () => JSON.stringify({ email, password: PASSWORD, admin: true })],
      [
        'an extra field named like an inherited member',
        () => JSON.stringify({ email, password: PASSWORD, valueOf: 1 }),
      ],
      [
        'a __proto__ key',
        () => `{"email":"${email}","password":"${PASSWORD}","__proto__":{"polluted":1}}`,
      ],
      ['top-level null', () => 'null'],
    ])('answers %s with 400 and sets no cookie', async (_, body) => {
      const response = await send('/auth/login', body());
      expect(response.statusCode).toBe(400);
      expect(response.headers['set-cookie']).toBeUndefined();
      expect(response.body).not.toContain('accessToken');
      expectNoPollution();
    });
  });

  describe('POST /auth/password', () => {
    it.each([
      [
        'an extra field',
        { currentPassword: PASSWORD, newPassword: 'another passphrase', userId: 'x' },
      ],
      ['an operator object', { currentPassword: { $ne: '' }, newPassword: 'another passphrase' }],
      ['a short new password', { currentPassword: PASSWORD, newPassword: 'short' }],
      ['a missing current password', { newPassword: 'another passphrase' }],
    ])('answers %s with 400 and keeps the password', async (_, payload) => {
      const email = uniqueEmail();
      const client = await signedInClient(target, email, PASSWORD);
      const response = await client.post('/auth/password', payload);
      expect(response.statusCode).toBe(400);
      expect(await loginStatus(email)).toBe(200);
      expect(await loginStatus(email, 'another passphrase')).toBe(401);
    });
  });
});
