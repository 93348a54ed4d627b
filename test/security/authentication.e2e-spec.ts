import type { LightMyRequestResponse } from 'fastify';
import { startApp, TestApp } from '../support/app';
import { TestClient } from '../support/client';

const PASSWORD = 'correct horse battery staple';
const uniqueEmail = () => `authn-${Math.random().toString(36).slice(2)}@example.com`;

/** Headers that differ between any two answers whatever they say. */
const VARYING = new Set(['date', 'x-request-id', 'request-id']);
const comparable = (response: LightMyRequestResponse) =>
  Object.fromEntries(Object.entries(response.headers).filter(([name]) => !VARYING.has(name)));

describe('authentication (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(() => target.close());

  const login = (email: string, password: string) =>
    target.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  const register = (email: string, password: string) =>
    target.inject({ method: 'POST', url: '/auth/register', payload: { email, password } });

  it('answers an unknown email and a wrong password alike: status, body and headers', async () => {
    const email = uniqueEmail();
    expect((await register(email, PASSWORD)).statusCode).toBe(201);
    const wrongPassword = await login(email, 'not the password at all');
    const unknownEmail = await login(uniqueEmail(), 'not the password at all');
    const wrongCase = await login(email.toUpperCase(), 'not the password at all');
    expect(wrongPassword.statusCode).toBe(401);
    expect(wrongPassword.json()).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'Invalid email or password',
    });
    for (const other of [unknownEmail, wrongCase]) {
      expect(other.statusCode).toBe(wrongPassword.statusCode);
      expect(other.body).toBe(wrongPassword.body);
      expect(comparable(other)).toEqual(comparable(wrongPassword));
    }
    expect(wrongPassword.headers['set-cookie']).toBeUndefined();
  });

  describe('registration passwords', () => {
    it('refuses passwords under 8 characters and stores nothing', async () => {
      for (const password of ['', 'a', '1234567', 'ab cd e']) {
        const email = uniqueEmail();
        const response = await register(email, password);
        expect({ password, status: response.statusCode }).toEqual({ password, status: 400 });
        expect((await login(email, password || 'x')).statusCode).toBe(401);
      }
      expect((await register(uniqueEmail(), '12345678')).statusCode).toBe(201);
    });

    it('accepts long Unicode passwords up to 128 characters and logs in with them', async () => {
      // 128 characters from several scripts, emoji (two UTF-16 units each) included.
      const unit = 'пароль密码🔑كلمةñé';
      const password = Array.from({ length: 128 }, (_, i) => [...unit][i % [...unit].length]).join(
        '',
      );
      expect([...password]).toHaveLength(128);
      const email = uniqueEmail();
      expect((await register(email, password)).statusCode).toBe(201);
      expect((await login(email, password)).statusCode).toBe(200);
      const tooLong = `${password}x`;
      expect((await register(uniqueEmail(), tooLong)).statusCode).toBe(400);
    });

    it('never truncates: a password differing only after character 72 does not log in', async () => {
      const email = uniqueEmail();
      const password = `${'p'.repeat(72)}-the-tail-counts-too`;
      expect((await register(email, password)).statusCode).toBe(201);
      for (const wrong of [
        'p'.repeat(72),
        `${'p'.repeat(72)}-the-tail-counts-toO`,
        `${'p'.repeat(72)}x`,
        `${'p'.repeat(72)}-the-tail-counts-to`,
      ]) {
        expect({ wrong, status: (await login(email, wrong)).statusCode }).toEqual({
          wrong,
          status: 401,
        });
      }
      expect((await login(email, password)).statusCode).toBe(200);
    });

    it('compares passwords exactly: no trimming, no case folding', async () => {
      const email = uniqueEmail();
      expect((await register(email, 'Exact Passphrase 42')).statusCode).toBe(201);
      for (const wrong of [' Exact Passphrase 42', 'Exact Passphrase 42 ', 'exact passphrase 42']) {
        expect((await login(email, wrong)).statusCode).toBe(401);
      }
      expect((await login(email, 'Exact Passphrase 42')).statusCode).toBe(200);
    });
  });
});

// Its own app (low limits) once the one above is closed.
describe('authentication (e2e): brute force', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ RATE_LIMIT_LOGIN_PER_ACCOUNT: '5', RATE_LIMIT_LOGIN_PER_IP: '50' });
  });

  afterAll(() => target.close());

  it('hits 429 with Retry-After after a handful of guesses, and the right password waits too', async () => {
    const email = uniqueEmail();
    await new TestClient(target).register(email, PASSWORD);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const guess = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: `guess number ${i}` },
      });
      statuses.push(guess.statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const right = await target.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(right.statusCode).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    expect(right.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
  });
});
