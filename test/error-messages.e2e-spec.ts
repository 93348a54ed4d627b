import { startApp, TestApp } from './support/app';
import { signedInClient } from './support/client';

const PASSWORD = 'correct horse battery staple';
const JSON_TYPE = { 'content-type': 'application/json' };
const uniqueEmail = () => `msg-${Math.random().toString(36).slice(2)}@example.com`;

describe('error messages a client can act on (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(() => target.close());

  const post = (url: string, payload: string, headers: Record<string, string> = JSON_TYPE) =>
    target.inject({ method: 'POST', url, payload, headers });

  /** The status and message of a registration refused. */
  async function refusedRegistration(payload: string, headers?: Record<string, string>) {
    const response = await post('/auth/register', payload, headers);
    return { status: response.statusCode, message: response.json().message };
  }

  describe('fields', () => {
    it.each([
      ['an empty object', '{}', ['email is required', 'password is required']],
      ['an empty body', '', ['email is required', 'password is required']],
      ['a missing password', '{"email":"a@example.com"}', ['password is required']],
      ['a number as email', `{"email":42,"password":"${PASSWORD}"}`, ['email must be a string']],
      [
        'a malformed email and a short password',
        '{"email":"nope","password":"short"}',
        ['email must be an email address', 'password must be longer than or equal to 8 characters'],
      ],
      [
        'an unknown field',
        `{"email":"a@example.com","password":"${PASSWORD}","role":"admin"}`,
        ['property role should not exist'],
      ],
    ])('answers %s with 400 naming each problem once', async (_, payload, message) => {
      expect(await refusedRegistration(payload)).toEqual({ status: 400, message });
    });

    it('names the field a password change lacks', async () => {
      const client = await signedInClient(target);
      const response = await client.post('/auth/password', { newPassword: 'another passphrase' });
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toEqual(['currentPassword is required']);
    });

    it('answers a body that is not an object with 400 saying so', async () => {
      for (const payload of ['[]', 'null', '"a@example.com"', '42']) {
        expect(await refusedRegistration(payload)).toEqual({
          status: 400,
          message: 'Request body must be a JSON object',
        });
      }
    });
  });

  describe('bodies', () => {
    it.each([
      [
        'a __proto__ key',
        `{"email":"E","password":"P","__proto__":{"polluted":true}}`,
        '__proto__',
      ],
      [
        'an escaped __proto__ key',
        '{"email":"E","password":"P","__pro\\u0074o__":{}}',
        '__proto__',
      ],
      [
        'a nested __proto__ key',
        '{"email":"E","password":"P","displayName":{"__proto__":{"isAdmin":true}}}',
        '__proto__',
      ],
      [
        'constructor.prototype',
        '{"email":"E","password":"P","constructor":{"prototype":{"polluted":true}}}',
        'constructor',
      ],
      // class-transformer dropped this one silently, and the account was created.
      ['a plain constructor key', '{"email":"E","password":"P","constructor":5}', 'constructor'],
    ])('answers %s with 400 naming the key, and registers nothing', async (_, body, key) => {
      const email = uniqueEmail();
      const payload = body.replace('"E"', `"${email}"`).replace('"P"', `"${PASSWORD}"`);
      expect(await refusedRegistration(payload)).toEqual({
        status: 400,
        message: `Request body must not contain a "${key}" key`,
      });
      const login = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      });
      expect(login.statusCode).toBe(401);
    });

    it('answers malformed JSON with 400 saying it is not valid JSON', async () => {
      expect(await refusedRegistration('{"email":')).toEqual({
        status: 400,
        message: 'Request body is not valid JSON',
      });
    });

    it('keeps the nesting limit', async () => {
      expect(await refusedRegistration(`{"email":${'['.repeat(100)}${']'.repeat(100)}}`)).toEqual({
        status: 400,
        message: 'Request body nests deeper than 16 levels',
      });
    });

    it.each([
      ['text/plain', 'email=a'],
      ['application/x-www-form-urlencoded', 'email=a%40example.com'],
    ])('answers %s with 415 saying the body must be application/json', async (type, payload) => {
      const response = await post('/auth/register', payload, { 'content-type': type });
      expect(response.statusCode).toBe(415);
      expect(response.json()).toEqual({
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: 'Request body must be application/json (Content-Type: application/json)',
      });
    });
  });

  describe('routes without a body', () => {
    it('accept an empty JSON body: refresh, logout-all and logout', async () => {
      const email = uniqueEmail();
      const client = await signedInClient(target, email, PASSWORD);
      const other = await signedInClient(target, email, PASSWORD);
      const emptyJson = (url: string, auth = true) =>
        client.request({ method: 'POST', url, payload: '', headers: JSON_TYPE, auth });

      const refreshed = await emptyJson('/auth/refresh', false);
      expect(refreshed.statusCode).toBe(200);
      client.accessToken = refreshed.json().accessToken;

      const others = await emptyJson('/sessions/logout-all');
      expect({ status: others.statusCode, body: others.json() }).toEqual({
        status: 200,
        body: { revoked: 1 },
      });
      expect((await other.get('/auth/me')).statusCode).toBe(401);

      expect((await emptyJson('/auth/logout')).statusCode).toBe(204);
      expect((await client.get('/auth/me')).statusCode).toBe(401);
    });

    it('still refuse a body that is not JSON', async () => {
      const client = await signedInClient(target);
      const response = await client.request({
        method: 'POST',
        url: '/auth/logout',
        payload: '{"oops":',
        headers: JSON_TYPE,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toBe('Request body is not valid JSON');
      expect((await client.get('/auth/me')).statusCode).toBe(200);
    });
  });
});
