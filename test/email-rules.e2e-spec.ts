import { startApp, TestApp } from './support/app';
import { TestClient } from './support/client';

const PASSWORD = 'correct horse battery staple';

describe('email rules (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(() => target.close());

  const register = (email: string) =>
    target.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: PASSWORD },
    });
  const login = (email: string) =>
    target.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  const emailOf = async (email: string) => {
    const client = new TestClient(target);
    await client.login(email, PASSWORD);
    return (await client.get('/auth/me')).json().email as string;
  };

  describe('refused with a 400 that says why, storing nothing', () => {
    it.each([
      ['a zero width space', 'ali\u200Bce@example.com', 'alice-zw@example.com', 'U+200B'],
      ['a right-to-left override', 'bob\u202E@example.com', 'bob@example.com', 'U+202E'],
      ['a soft hyphen', 'car\u00ADol@example.com', 'carol@example.com', 'U+00AD'],
      ['a Hangul filler', 'dave\u3164@example.com', 'dave@example.com', 'U+3164'],
      ['a space inside', 'er in@example.com', 'erin@example.com', 'whitespace (found U+0020)'],
      ['a no-break space inside', 'fr\u00A0ank@example.com', 'frank@example.com', 'U+00A0'],
      ['a line separator', 'grace\u2028@example.com', 'grace@example.com', 'U+2028'],
      [
        'a local part mixing Latin and Cyrillic',
        'раураl@example.com',
        'paypal-mixed@example.com',
        'email local part mixes scripts (Cyrillic and Latin)',
      ],
      [
        'a domain label mixing Latin and Cyrillic',
        'heidi@exаmple.com',
        'heidi@example.com',
        'email domain label mixes scripts (Latin and Cyrillic)',
      ],
    ])('%s', async (_, email, lookalike, reason) => {
      const response = await register(email);
      expect(response.statusCode).toBe(400);
      const body = response.json();
      expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(body.message).toEqual(expect.arrayContaining([expect.stringContaining(reason)]));
      // Nothing stored under the refused email or the one it hides.
      expect((await register(lookalike)).statusCode).toBe(201);
      // Login applies the same rules.
      const refused = await login(email);
      expect(refused.statusCode).toBe(400);
      expect(refused.json().message).toEqual(
        expect.arrayContaining([expect.stringContaining(reason)]),
      );
    });
  });

  describe('normalised, so one account has one email however it is typed', () => {
    it('stores the normalised form and logs in with the fullwidth, upper-case or decomposed one', async () => {
      const created = await register('  Zoë.Alice@Example.COM ');
      expect(created.statusCode).toBe(201);
      expect(created.json().email).toBe('zoë.alice@example.com');
      for (const typed of [
        'ｚｏë.ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ',
        'ZOË.ALICE@EXAMPLE.COM',
        'zoe\u0308.alice@example.com',
      ]) {
        expect(await emailOf(typed)).toBe('zoë.alice@example.com');
      }
    });

    it('folds case fully: ß is ss, ﬁ is fi (toLowerCase alone would keep them apart)', async () => {
      expect((await register('strasse@example.com')).statusCode).toBe(201);
      for (const variant of ['straße@example.com', 'STRAẞE@example.com', 'ſtrasse@example.com']) {
        const again = await register(variant);
        expect({ status: again.statusCode, code: again.json().code }).toEqual({
          status: 409,
          code: 'EMAIL_TAKEN',
        });
        expect(await emailOf(variant)).toBe('strasse@example.com');
      }
      expect((await register('ﬁnn@example.com')).json().email).toBe('finn@example.com');
      expect((await register('finn@example.com')).statusCode).toBe(409);
    });

    it('treats an IDN domain and its punycode as one domain, stored in Unicode', async () => {
      const created = await register('kai@Bücher.de');
      expect(created.json().email).toBe('kai@bücher.de');
      expect((await register('kai@xn--bcher-kva.de')).statusCode).toBe(409);
      expect(await emailOf('KAI@XN--BCHER-KVA.DE')).toBe('kai@bücher.de');
    });
  });

  describe('lookalikes of a registered email are taken (409 EMAIL_TAKEN)', () => {
    it.each([
      ['Cyrillic ѕсоре for Latin scope', 'scope@example.com', 'ѕсоре@example.com'],
      ['rn for m', 'modern@example.com', 'rnodern@example.com'],
      ['1 for l', 'lily@example.com', '1i1y@example.com'],
      ['Greek ο in a Greek domain label for Latin o', 'ivan@oo.com', 'ivan@οο.com'],
    ])('%s', async (_, original, lookalike) => {
      expect((await register(original)).statusCode).toBe(201);
      const taken = await register(lookalike);
      expect({ status: taken.statusCode, body: taken.json() }).toEqual({
        status: 409,
        body: {
          statusCode: 409,
          error: 'Conflict',
          message: 'An account with this email already exists',
          code: 'EMAIL_TAKEN',
        },
      });
      // The lookalike does not log into the original account.
      expect((await login(lookalike)).statusCode).toBe(401);
    });
  });
});

describe('email rules and the login rate limit (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ TRUST_PROXY: 'true', RATE_LIMIT_LOGIN_PER_ACCOUNT: '2' });
  });

  afterAll(() => target.close());

  it('counts every spelling of one email on one account counter', async () => {
    const register = await target.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: 'quinn@example.com', password: PASSWORD },
    });
    expect(register.statusCode).toBe(201);
    const attempt = (email: string, password: string, ip: string) =>
      target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password },
        headers: { 'x-forwarded-for': ip },
      });
    expect((await attempt('QUINN@example.com', 'wrong 1', '203.0.113.1')).statusCode).toBe(401);
    expect((await attempt('ｑｕｉｎｎ@example.com', 'wrong 2', '203.0.113.2')).statusCode).toBe(
      401,
    );
    expect((await attempt('quinn@EXAMPLE.com', PASSWORD, '203.0.113.3')).statusCode).toBe(429);
  });
});
