import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { normaliseEmail } from '../../src/users/email-address';
import { startApp, TEST_SECRET, TestApp } from '../support/app';
import { signedInClient, TestClient } from '../support/client';

/**
 * Property-based fuzzing of the guard and the DTOs: random headers, cookies and bodies never get
 * a 500, and never a 2xx without valid credentials. Bounded runs; fast-check prints the seed and
 * the shrunk counterexample of any failure.
 */
const RUNS = 250;
const PASSWORD = 'correct horse battery staple';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const printable = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    maxLength,
  });
const base64url = (maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength });
/** Characters a cookie name or value may hold without changing the header's structure. */
const cookieText = (minLength: number, maxLength: number) =>
  fc.string({
    unit: fc.constantFrom(...`${BASE64URL}.%"'!#$&*+^|~`),
    minLength,
    maxLength,
  });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('fuzzing the guard and the DTOs (e2e)', () => {
  let target: TestApp;
  let victim: TestClient;
  let other: TestClient;
  let token: string;
  let fingerprint: string;
  let victimEmail: string;

  beforeAll(async () => {
    target = await startApp();
    victimEmail = `fuzz-${Math.random().toString(36).slice(2)}@example.com`;
    victim = await signedInClient(target, victimEmail, PASSWORD);
    other = await signedInClient(target);
    token = victim.accessToken as string;
    fingerprint = victim.cookies.get('__Host-Fgp')?.value as string;
  });

  afterAll(() => target.close());

  const sessionsOfVictim = async () =>
    ((await victim.get('/sessions')).json().sessions as Array<{ id: string }>).map(
      (session) => session.id,
    );

  it('answers 200 on a read route exactly when a genuine token meets its own cookie', async () => {
    const cookieValue = fc.oneof(
      fc.constant(() => fingerprint),
      fc.constant(() => other.cookies.get('__Host-Fgp')?.value as string),
      cookieText(0, 60).map((value) => () => value),
    );
    const cookieName = fc.oneof(
      fc.constantFrom('__Host-Fgp', 'fgp', '__host-fgp', '__Secure-Fpa-Refresh'),
      cookieText(1, 20),
    );
    const authorization = fc.oneof(
      fc.constant(() => `Bearer ${token}`),
      fc.constant(() => `Bearer ${other.accessToken}`),
      fc.constant(() => `bearer ${token}`),
      fc.constant(() => `Basic ${token}`),
      fc.constant(() => token),
      printable(120).map((text) => () => text),
      fc.constant(undefined),
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/auth/me', '/sessions', '/sessions/alerts'),
        authorization,
        fc.array(fc.tuple(cookieName, cookieValue), { maxLength: 4 }),
        async (url, auth, pairs) => {
          const cookies = pairs.map(([name, value]) => [name, value()] as const);
          const header = auth?.();
          const response = await target.inject({
            method: 'GET',
            url,
            headers: {
              ...(header === undefined ? {} : { authorization: header }),
              ...(cookies.length
                ? { cookie: cookies.map(([n, v]) => `${n}=${v}`).join('; ') }
                : {}),
            },
          });
          // The model: a genuine token (the scheme is case-insensitive, RFC 7235) with its own
          // fingerprint in the first __Host-Fgp cookie (the one read); nothing else authenticates.
          const bearer = header === undefined ? undefined : /^bearer (.+)$/i.exec(header)?.[1];
          const presented = cookies.find(([name]) => name === '__Host-Fgp')?.[1];
          const valid =
            (bearer === token && presented === fingerprint) ||
            (bearer === other.accessToken && presented === other.cookies.get('__Host-Fgp')?.value);
          expect(response.statusCode).toBe(valid ? 200 : 401);
          if (valid) accepted++;
        },
      ),
      { numRuns: RUNS },
    );
    // Both sides of the model were exercised.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(RUNS);
  });

  it('refuses every mutation of the genuine token, on every guarded route, changing nothing', async () => {
    const before = await sessionsOfVictim();
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('replace'), at: fc.nat(), by: fc.constantFrom(...BASE64URL) }),
      fc.record({
        kind: fc.constant('insert'),
        at: fc.nat(),
        by: fc.constantFrom(...BASE64URL, '.'),
      }),
      fc.record({ kind: fc.constant('delete'), at: fc.nat(), by: fc.constant('') }),
      fc.record({ kind: fc.constant('truncate'), at: fc.nat(), by: fc.constant('') }),
    );
    const route = fc.constantFrom(
      ['GET', '/auth/me'],
      ['GET', '/sessions'],
      ['POST', '/sessions/logout-all'],
      ['POST', '/auth/logout'],
      ['DELETE', `/sessions/${victim.sessionId}`],
    );
    await fc.assert(
      fc.asyncProperty(mutation, route, async ({ kind, at, by }, [method, url]) => {
        const i = at % token.length;
        const mutated =
          kind === 'replace'
            ? token.slice(0, i) + by + token.slice(i + 1)
            : kind === 'insert'
              ? token.slice(0, i) + by + token.slice(i)
              : kind === 'delete'
                ? token.slice(0, i) + token.slice(i + 1)
                : token.slice(0, i);
        fc.pre(mutated !== token);
        const response = await target.inject({
          method: method as 'GET' | 'POST' | 'DELETE',
          url,
          headers: { authorization: `Bearer ${mutated}`, cookie: `__Host-Fgp=${fingerprint}` },
        });
        expect(response.statusCode).toBe(401);
      }),
      { numRuns: RUNS },
    );
    expect(await sessionsOfVictim()).toEqual(before);
    expect((await victim.get('/auth/me')).statusCode).toBe(200);
  });

  it('refuses tokens forged from random headers and claims, whatever signs them', async () => {
    const claims = fc.record(
      {
        sub: fc.oneof(fc.string(), fc.jsonValue()),
        sid: fc.oneof(fc.constant(victim.sessionId), fc.string(), fc.jsonValue()),
        fgp: fc.oneof(base64url(43), fc.jsonValue()),
        exp: fc.oneof(fc.integer(), fc.string(), fc.jsonValue()),
        nbf: fc.jsonValue(),
        crit: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    const header = fc.record(
      {
        alg: fc.oneof(
          fc.constantFrom('none', 'None', 'HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'PS256'),
          fc.jsonValue(),
        ),
        typ: fc.constantFrom('JWT', 'jwt', 'at+jwt'),
        kid: fc.string(),
        crit: fc.jsonValue(),
        jku: fc.webUrl(),
      },
      { requiredKeys: ['alg'] },
    );
    const key = fc.oneof(fc.constant(''), fc.string(), fc.constant('attacker secret'));
    await fc.assert(
      fc.asyncProperty(
        header,
        fc.oneof(claims, fc.jsonValue()),
        key,
        async (head, payload, secret) => {
          const input = `${b64(head)}.${b64(payload)}`;
          const signature = createHmac('sha256', secret).update(input).digest('base64url');
          fc.pre(secret !== TEST_SECRET);
          const response = await target.inject({
            method: 'GET',
            url: '/auth/me',
            headers: {
              authorization: `Bearer ${input}.${signature}`,
              cookie: `__Host-Fgp=${fingerprint}`,
            },
          });
          expect(response.statusCode).toBe(401);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never answers a random login body with 200 or a 500', async () => {
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          email: fc.oneof(fc.constant(victimEmail), fc.emailAddress(), fc.jsonValue()),
          password: fc.oneof(fc.string({ maxLength: 140 }), fc.jsonValue()),
        },
        { requiredKeys: [] },
      ),
      fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue(), { maxKeys: 4 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        fc.pre(JSON.stringify(payload).length < 8000);
        fc.pre(
          !(typeof payload === 'object' && payload !== null && 'password' in payload) ||
            (payload as { password: unknown }).password !== PASSWORD,
        );
        const response = await target.inject({
          method: 'POST',
          url: '/auth/login',
          payload: JSON.stringify(payload),
          headers: { 'content-type': 'application/json' },
        });
        expect([400, 401]).toContain(response.statusCode);
        expect(response.headers['set-cookie']).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('registers a random body only when it is a valid registration, and then it logs in', async () => {
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          email: fc.oneof(fc.emailAddress(), fc.string(), fc.jsonValue()),
          password: fc.oneof(fc.string({ minLength: 6, maxLength: 130 }), fc.jsonValue()),
          displayName: fc.oneof(fc.string({ maxLength: 110 }), fc.jsonValue()),
          role: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
      fc.record({
        email: fc.emailAddress(),
        password: fc.string({ minLength: 6, maxLength: 130 }),
      }),
    );
    let registered = 0;
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        fc.pre(JSON.stringify(payload).length < 8000);
        const response = await target.inject({
          method: 'POST',
          url: '/auth/register',
          payload: JSON.stringify(payload),
          headers: { 'content-type': 'application/json' },
        });
        expect([201, 400, 409]).toContain(response.statusCode);
        if (response.statusCode !== 201) return;
        const { email, password, ...rest } = payload as Record<string, unknown>;
        expect(typeof email).toBe('string');
        expect(typeof password).toBe('string');
        expect(Object.keys(rest).filter((k) => k !== 'displayName')).toEqual([]);
        expect(response.json().email).toBe(normaliseEmail(email as string));
        const login = await target.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email, password },
        });
        expect(login.statusCode).toBe(200);
        registered++;
      }),
      { numRuns: 200 },
    );
    expect(registered).toBeGreaterThan(0);
  });

  it('answers random raw bodies and content types with a 4xx, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/auth/register', '/auth/login', '/auth/refresh'),
        fc.oneof(
          fc.constant('application/json'),
          fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'),
          printable(40),
        ),
        fc.oneof(printable(300), fc.string({ maxLength: 300 }), fc.json()),
        async (url, type, payload) => {
          const response = await target.inject({
            method: 'POST',
            url,
            payload,
            headers: type ? { 'content-type': type } : {},
          });
          expect(response.statusCode).toBeGreaterThanOrEqual(400);
          expect(response.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS },
    );
    // The victim is untouched by all of the above.
    expect((await victim.get('/auth/me')).statusCode).toBe(200);
  });
});
