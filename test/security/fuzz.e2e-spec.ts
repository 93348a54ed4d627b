import { createHmac } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import fc from 'fast-check';
import { AUDIT_EVENT_ID_PATTERN } from '../../src/audit/audit-event';
import { keyId } from '../../src/auth/signing-keys';
import { sha256 } from '../../src/common/hashes';
import { normaliseEmail } from '../../src/users/email-address';
import { startApp, TEST_SECRET, TestApp } from '../support/app';
import { signedInClient, TestClient } from '../support/client';
import { countAnswer, FUZZ_SCALE, holds } from '../support/fuzz';

/**
 * Property-based fuzzing of the guard, the cookie parser and every DTO (bodies, the events query,
 * the session id in the path): random tokens, Cookie headers, bodies and query strings never get
 * a 500, and never a 2xx without valid credentials. fast-check prints the seed and the shrunk
 * counterexample of any failure.
 *
 * Budget: each property's base count of runs times FUZZ_SCALE (default 1, what CI runs;
 * `npm run bench -- --only=fuzz` runs 100). FUZZ_SEED=<seed> replays a run's inputs, FUZZ_REPORT
 * collects what each property did (test/support/fuzz.ts).
 */
const PASSWORD = 'correct horse battery staple';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const FINGERPRINT_COOKIE = '__Host-Fgp';
const REFRESH_COOKIE = '__Secure-Fpa-Refresh';

// Each property gets a minute at scale 1, and as much more as its runs.
jest.setTimeout(60_000 * Math.max(1, FUZZ_SCALE));

const printable = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    maxLength,
  });
/** Any code point (astral ones included), and the same text as a server reads its UTF-8 bytes. */
const unicode = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc
      .string({ unit: 'binary', maxLength })
      .map((text) => Buffer.from(text, 'utf8').toString('latin1')),
  );
const base64url = (maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength });
/** Characters a cookie name or value may hold without changing the header's structure. */
const cookieText = (minLength: number, maxLength: number) =>
  fc.string({
    unit: fc.constantFrom(...`${BASE64URL}.%"'!#$&*+^|~`),
    minLength,
    maxLength,
  });
/** Text of any length up to ~64 KB without drawing every character (a huge header or claim). */
const huge = fc
  .tuple(fc.constantFrom('A', 'x.', '%00', 'é', '\u{1F600}', '=', ' '), fc.nat(16_000))
  .map(([piece, times]) => piece.repeat(times));
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** Keys a JSON parser or a transformer could mistake for the object's own machinery. */
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/** How class-validator's length checks count: a code point, variation selectors not at all. */
const characters = (text: string) =>
  [...text].filter((char) => char !== '\uFE0E' && char !== '\uFE0F').length;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A JSON body of any shape, often close to `fields`: each present or not, right type or not. */
function bodyAround(fields: Record<string, fc.Arbitrary<unknown>>) {
  const near = Object.fromEntries(
    Object.entries(fields).map(([name, arbitrary]) => [
      name,
      fc.oneof({ weight: 4, arbitrary }, { weight: 1, arbitrary: fc.jsonValue() }),
    ]),
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.jsonValue() },
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.record(near, { requiredKeys: [] }),
          fc.dictionary(
            fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, 'role', 'userId'), fc.string()),
            fc.jsonValue(),
            { maxKeys: 2 },
          ),
          fc.boolean(),
        )
        // Most bodies carry only the DTO's own fields; some carry more.
        .map(([own, extra, withExtra]) => (withExtra ? { ...extra, ...own } : own)),
    },
    { weight: 1, arbitrary: fc.record(fields) },
  );
}

interface Claims {
  sub: string;
  sid: string;
  fgp: string;
}

describe('fuzzing the guard, the cookie parser and the DTOs (e2e)', () => {
  let target: TestApp;
  /** Two sessions of one user, one of another: the guard properties' genuine credentials. */
  let victim: TestClient;
  let victimElsewhere: TestClient;
  let other: TestClient;
  let victimEmail: string;

  beforeAll(async () => {
    // Long enough for the genuine tokens to outlive a run at any scale the bench uses.
    target = await startApp({ ACCESS_TOKEN_TTL: '24h' });
    victimEmail = `fuzz-${Math.random().toString(36).slice(2)}@example.com`;
    victim = await signedInClient(target, victimEmail, PASSWORD);
    victimElsewhere = await signedInClient(target, victimEmail, PASSWORD);
    other = await signedInClient(target);
  });

  afterAll(() => target.close());

  const fingerprintOf = (client: TestClient) =>
    client.cookies.get(FINGERPRINT_COOKIE)?.value as string;
  /** The headers that authenticate: a bearer token and a fingerprint cookie. */
  const credentials = (token: string, fingerprint: string) => ({
    authorization: `Bearer ${token}`,
    cookie: `${FINGERPRINT_COOKIE}=${fingerprint}`,
  });
  /** A client's own credentials. */
  const credentialsOf = (client: TestClient) =>
    credentials(client.accessToken as string, fingerprintOf(client));
  const genuine = () => [victim, victimElsewhere, other];
  const claimsOf = (client: TestClient): Claims & Record<string, unknown> =>
    JSON.parse(
      Buffer.from((client.accessToken as string).split('.')[1], 'base64url').toString(),
    ) as Claims & Record<string, unknown>;

  /** Sends a request and counts its answer for the report (`forged`: it must not pass). */
  const send = async (options: InjectOptions, forged: boolean) => {
    const response = await target.inject(options);
    countAnswer(response.statusCode, forged);
    return response;
  };

  const sessionsOf = async (client: TestClient) =>
    ((await client.get('/sessions')).json().sessions as Array<{ id: string }>)
      .map((session) => session.id)
      .sort();

  /** A user of one property alone, so what it does to its own account touches no other. */
  async function ownUser() {
    const email = `fuzz-own-${Math.random().toString(36).slice(2)}@example.com`;
    const client = await signedInClient(target, email, PASSWORD);
    const second = await signedInClient(target, email, PASSWORD);
    return { email, client, second };
  }

  async function expectUnchanged(user: Awaited<ReturnType<typeof ownUser>>, before: string[]) {
    expect(await sessionsOf(user.client)).toEqual(before);
    expect((await user.second.get('/auth/me')).statusCode).toBe(200);
    const login = await target.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: user.email, password: PASSWORD },
    });
    expect(login.statusCode).toBe(200);
  }

  describe('the guard', () => {
    it('answers 200 on a read route exactly when a genuine token meets its own cookie', async () => {
      // Tokens and cookies are often those of one holder, so both answers occur.
      const cookieValue = fc.oneof(
        { weight: 3, arbitrary: fc.constant((holder: TestClient) => fingerprintOf(holder)) },
        fc.constantFrom(...genuine()).map((client) => () => fingerprintOf(client)),
        cookieText(0, 60).map((value) => () => value),
      );
      const cookieName = fc.oneof(
        { weight: 3, arbitrary: fc.constant(FINGERPRINT_COOKIE) },
        fc.constantFrom('fgp', '__host-fgp', REFRESH_COOKIE),
        cookieText(1, 20),
      );
      const authorization = fc.oneof(
        {
          weight: 3,
          arbitrary: fc.constant((holder: TestClient) => `Bearer ${holder.accessToken}`),
        },
        fc.constantFrom(...genuine()).map((client) => () => `Bearer ${client.accessToken}`),
        fc.constant((holder: TestClient) => `bearer ${holder.accessToken}`),
        fc.constant((holder: TestClient) => `Basic ${holder.accessToken}`),
        fc.constant((holder: TestClient) => holder.accessToken as string),
        printable(120).map((text) => () => text),
        fc.constant(undefined),
      );
      let accepted = 0;
      const runs = await holds(
        fc.asyncProperty(
          fc.constantFrom('/auth/me', '/sessions', '/sessions/alerts', '/account/events'),
          fc.constantFrom(...genuine()),
          authorization,
          fc.array(fc.tuple(cookieName, cookieValue), { maxLength: 4 }),
          async (url, holder, auth, pairs) => {
            const cookies = pairs.map(([name, value]) => [name, value(holder)] as const);
            const header = auth?.(holder);
            // The model: a genuine token (the scheme is case-insensitive, RFC 7235) with its own
            // fingerprint in the first __Host-Fgp cookie (the one read); nothing else authenticates.
            const bearer = header === undefined ? undefined : /^bearer (.+)$/i.exec(header)?.[1];
            const presented = cookies.find(([name]) => name === FINGERPRINT_COOKIE)?.[1];
            const valid = genuine().some(
              (client) => bearer === client.accessToken && presented === fingerprintOf(client),
            );
            const response = await send(
              {
                method: 'GET',
                url,
                headers: {
                  ...(header === undefined ? {} : { authorization: header }),
                  ...(cookies.length
                    ? { cookie: cookies.map(([n, v]) => `${n}=${v}`).join('; ') }
                    : {}),
                },
              },
              !valid,
            );
            expect(response.statusCode).toBe(valid ? 200 : 401);
            if (valid) accepted++;
          },
        ),
        150,
      );
      // Both sides of the model were exercised.
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(runs);
    });

    it('refuses every mutation of a genuine token, on every guarded route, changing nothing', async () => {
      const before = await sessionsOf(victim);
      const token = victim.accessToken as string;
      const mutation = fc.oneof(
        fc.record({
          kind: fc.constant('replace'),
          at: fc.nat(),
          by: fc.constantFrom(...BASE64URL),
        }),
        fc.record({
          kind: fc.constant('insert'),
          at: fc.nat(),
          by: fc.oneof(
            fc.constantFrom(...BASE64URL, '.', '=', ' ', '\t', '+', '/'),
            unicode(3),
            huge,
          ),
        }),
        fc.record({ kind: fc.constant('delete'), at: fc.nat(), by: fc.constant('') }),
        fc.record({ kind: fc.constant('truncate'), at: fc.nat(), by: fc.constant('') }),
        fc.record({ kind: fc.constant('flip case'), at: fc.nat(), by: fc.constant('') }),
      );
      const route = fc.constantFrom(
        ['GET', '/auth/me'],
        ['GET', '/sessions'],
        ['GET', '/account/events'],
        ['POST', '/sessions/logout-all'],
        ['POST', '/auth/logout'],
        ['POST', '/auth/password'],
        ['DELETE', '/account'],
        ['DELETE', `/sessions/${victim.sessionId}`],
      );
      await holds(
        fc.asyncProperty(mutation, route, async ({ kind, at, by }, [method, url]) => {
          const i = at % token.length;
          const mutated =
            kind === 'replace'
              ? token.slice(0, i) + by + token.slice(i + 1)
              : kind === 'insert'
                ? token.slice(0, i) + by + token.slice(i)
                : kind === 'delete'
                  ? token.slice(0, i) + token.slice(i + 1)
                  : kind === 'truncate'
                    ? token.slice(0, i)
                    : token.slice(0, i) +
                      (token[i] === token[i].toUpperCase()
                        ? token[i].toLowerCase()
                        : token[i].toUpperCase()) +
                      token.slice(i + 1);
          fc.pre(mutated !== token);
          const response = await send(
            {
              method: method as 'GET' | 'POST' | 'DELETE',
              url,
              headers: credentials(mutated, fingerprintOf(victim)),
              // The password routes' bodies carry the right password: only the token is wrong.
              ...(url === '/auth/password'
                ? { payload: { currentPassword: PASSWORD, newPassword: 'a new passphrase' } }
                : url === '/account'
                  ? { payload: { password: PASSWORD } }
                  : {}),
            },
            true,
          );
          expect(response.statusCode).toBe(401);
        }),
        150,
      );
      expect(await sessionsOf(victim)).toEqual(before);
      expect((await victim.get('/auth/me')).statusCode).toBe(200);
    });

    it('refuses tokens forged from random headers and claims, whatever signs them', async () => {
      const claims = fc.record(
        {
          sub: fc.oneof(fc.string(), unicode(20), fc.jsonValue()),
          sid: fc.oneof(fc.constant(victim.sessionId), fc.string(), fc.jsonValue()),
          fgp: fc.oneof(
            base64url(43),
            fc.constant(sha256(fingerprintOf(victim))),
            fc.constant(fingerprintOf(victim)),
            fc.jsonValue(),
          ),
          exp: fc.oneof(fc.integer(), fc.string(), fc.jsonValue()),
          iat: fc.oneof(fc.integer(), fc.jsonValue()),
          iss: fc.oneof(fc.constant(claimsOf(victim).iss), fc.string()),
          nbf: fc.jsonValue(),
          crit: fc.jsonValue(),
          pad: huge,
        },
        { requiredKeys: [] },
      );
      const header = fc.record(
        {
          alg: fc.oneof(
            fc.constantFrom('none', 'None', 'NONE', 'HS256', 'HS384', 'HS512', 'RS256', 'ES256'),
            fc.jsonValue(),
          ),
          typ: fc.constantFrom('JWT', 'jwt', 'at+jwt'),
          kid: fc.oneof(
            fc.constant(keyId(Buffer.from(TEST_SECRET))),
            fc.string(),
            unicode(20),
            huge,
            fc.jsonValue(),
          ),
          crit: fc.jsonValue(),
          jku: fc.webUrl(),
        },
        { requiredKeys: ['alg'] },
      );
      const signature = fc.oneof(
        fc
          .oneof(fc.constant(''), fc.string(), fc.constant('attacker secret'), unicode(40))
          .map((key) => ({ key })),
        fc.constantFrom('none', 'transplanted'),
        base64url(90),
      );
      await holds(
        fc.asyncProperty(
          header,
          fc.oneof(claims, fc.jsonValue()),
          signature,
          async (head, payload, signedBy) => {
            fc.pre(typeof signedBy !== 'object' || signedBy.key !== TEST_SECRET);
            const input = `${b64(head)}.${b64(payload)}`;
            const sig =
              typeof signedBy === 'object'
                ? createHmac('sha256', signedBy.key).update(input).digest('base64url')
                : signedBy === 'none'
                  ? ''
                  : signedBy === 'transplanted'
                    ? (victim.accessToken as string).split('.')[2]
                    : signedBy;
            const response = await send(
              {
                method: 'GET',
                url: '/auth/me',
                headers: credentials(`${input}.${sig}`, fingerprintOf(victim)),
              },
              true,
            );
            expect(response.statusCode).toBe(401);
          },
        ),
        150,
      );
    });

    it('accepts a token signed with the real key only for a live session and its own cookie', async () => {
      // An attacker who had the key could sign any claims; what the session check still holds
      // to is that sub, sid and fgp are one live session's and the cookie is its fingerprint.
      // Each part is mostly the chosen session's own (`undefined` below), so both answers occur.
      const kid = keyId(Buffer.from(TEST_SECRET));
      const now = Math.floor(Date.now() / 1000);
      const mostlyOwn = <T>(other: fc.Arbitrary<T>) =>
        fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: other });
      const ofAny = (field: keyof Claims) =>
        fc.oneof(
          fc.constantFrom(...genuine().map((client) => claimsOf(client)[field])),
          fc.string(),
        );
      const forgery = fc.record({
        holder: fc.constantFrom(...genuine()),
        alg: mostlyOwn(fc.constantFrom('HS384', 'HS512', 'none', 'hs256')),
        kid: mostlyOwn(
          fc.oneof(fc.constant('absent'), fc.constant(kid.slice(1)), fc.string(), fc.integer()),
        ),
        sub: mostlyOwn(ofAny('sub')),
        sid: mostlyOwn(ofAny('sid')),
        fgp: mostlyOwn(ofAny('fgp')),
        iss: mostlyOwn(fc.constantFrom('someone-else', '')),
        times: mostlyOwn(
          fc.constantFrom('longer life', 'earlier iat', 'no iat', 'future', 'expired'),
        ),
        cookie: mostlyOwn(
          fc.oneof(fc.constantFrom(...genuine().map(fingerprintOf)), base64url(43)),
        ),
      });
      let accepted = 0;
      const runs = await holds(
        fc.asyncProperty(forgery, async (forged) => {
          const own = claimsOf(forged.holder);
          const { iat, exp } = own;
          const times = {
            'longer life': { iat, exp: (exp as number) + 1 },
            'earlier iat': { iat: (iat as number) - 10, exp },
            'no iat': { exp },
            future: { iat: now + 3600, exp: now + 3660 },
            expired: { iat: now - 100, exp: now - 10 },
          };
          const head = {
            alg: forged.alg ?? 'HS256',
            typ: 'JWT',
            ...(forged.kid === 'absent' ? {} : { kid: forged.kid ?? kid }),
          };
          const claims = {
            sub: forged.sub ?? own.sub,
            sid: forged.sid ?? own.sid,
            fgp: forged.fgp ?? own.fgp,
            iss: forged.iss ?? own.iss,
            ...(forged.times === undefined ? { iat, exp } : times[forged.times]),
          };
          const presented = forged.cookie ?? fingerprintOf(forged.holder);
          const session = genuine().find((client) => {
            const real = claimsOf(client);
            return (
              claims.sub === real.sub &&
              claims.sid === real.sid &&
              claims.fgp === real.fgp &&
              presented === fingerprintOf(client)
            );
          });
          const valid =
            session !== undefined &&
            forged.alg === undefined &&
            (forged.kid === undefined || forged.kid === 'absent') &&
            forged.iss === undefined &&
            forged.times === undefined;
          const input = `${b64(head)}.${b64(claims)}`;
          const signature = createHmac('sha256', TEST_SECRET).update(input).digest('base64url');
          const response = await send(
            {
              method: 'GET',
              url: '/auth/me',
              headers: credentials(`${input}.${signature}`, presented),
            },
            !valid,
          );
          expect(response.statusCode).toBe(valid ? 200 : 401);
          if (!valid) return;
          accepted++;
          expect(response.json().sessionId).toBe(session?.sessionId);
        }),
        100,
      );
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(runs);
    });
  });

  describe('the cookie parser', () => {
    it('reads the fingerprint from any well-formed Cookie header: its first __Host-Fgp pair', async () => {
      const pair = fc.oneof(
        {
          weight: 3,
          arbitrary: fc
            .constantFrom(...genuine())
            .map((client): [string, string] => [FINGERPRINT_COOKIE, fingerprintOf(client)]),
        },
        fc.tuple(fc.constant(FINGERPRINT_COOKIE), cookieText(0, 60)),
        fc.tuple(
          fc.constantFrom('fgp', '__host-fgp', '__Host-Fgp2', REFRESH_COOKIE),
          base64url(43),
        ),
        fc.tuple(cookieText(1, 20), cookieText(0, 60)),
      );
      const separator = fc.constantFrom(';', '; ', ' ; ', ';\t', ';;', ';  ');
      const blank = fc.constantFrom('', ' ', '\t', '  ');
      const client = fc.constantFrom(...genuine());
      let accepted = 0;
      const runs = await holds(
        fc.asyncProperty(
          client,
          fc.array(fc.tuple(pair, separator, blank, blank), { minLength: 1, maxLength: 6 }),
          async (holder, pairs) => {
            const header = pairs
              .map(([[name, value], sep, before, after], i) =>
                i === 0
                  ? `${name}=${before}${value}${after}`
                  : `${sep}${name}=${before}${value}${after}`,
              )
              .join('');
            // Blanks around a name or value are no part of it (RFC 6265's parser).
            const first = pairs.find(([[name]]) => name === FINGERPRINT_COOKIE)?.[0][1];
            const valid = first === fingerprintOf(holder);
            const response = await send(
              {
                method: 'GET',
                url: '/auth/me',
                headers: { authorization: `Bearer ${holder.accessToken}`, cookie: header },
              },
              !valid,
            );
            expect(response.statusCode).toBe(valid ? 200 : 401);
            if (valid) accepted++;
          },
        ),
        100,
      );
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(runs);
    });

    it('answers any raw Cookie header with 200 or 401, and 200 only when it holds the fingerprint', async () => {
      const fingerprint = fingerprintOf(victim);
      const junk = fc.oneof(unicode(200), printable(200), huge, fc.constant(''));
      await holds(
        fc.asyncProperty(
          junk,
          fc.option(fc.tuple(fc.nat(), fc.constantFrom('', ';', '; ')), { nil: undefined }),
          async (text, splice) => {
            // Often the genuine pair itself, spliced into the junk at some point.
            const at = splice === undefined ? 0 : splice[0] % (text.length + 1);
            const header =
              splice === undefined
                ? text
                : `${text.slice(0, at)}${splice[1]}${FINGERPRINT_COOKIE}=${fingerprint}${text.slice(at)}`;
            const response = await send(
              {
                method: 'GET',
                url: '/auth/me',
                headers: { authorization: `Bearer ${victim.accessToken}`, cookie: header },
              },
              !header.includes(fingerprint),
            );
            expect([200, 401]).toContain(response.statusCode);
            if (response.statusCode === 200) expect(header).toContain(fingerprint);
          },
        ),
        100,
      );
    });

    it('rotates the refresh credential exactly when the first refresh cookie is the current one', async () => {
      const { client: holder } = await ownUser();
      const current = () => holder.cookies.get(REFRESH_COOKIE)?.value as string;
      const mutated = fc
        .tuple(
          fc.nat(),
          // No ';': it would end the pair where the model does not expect it.
          fc.oneof(
            fc.constantFrom(...BASE64URL, '.', ' '),
            unicode(2).map((t) => t.replace(/;/g, '')),
          ),
        )
        .map(([at, by]) => () => {
          const value = current();
          const i = at % value.length;
          return value.slice(0, i) + by + value.slice(i + 1);
        });
      const value = fc.oneof(
        { weight: 3, arbitrary: fc.constant(current) },
        mutated,
        fc.constant(() => current().split('.')[0]),
        fc.constant(() => `${current()}.${current()}`),
        cookieText(0, 70).map((text) => () => text),
      );
      const name = fc.oneof(
        { weight: 2, arbitrary: fc.constant(REFRESH_COOKIE) },
        fc.constantFrom('__secure-fpa-refresh', 'fpa_refresh', FINGERPRINT_COOKIE),
        cookieText(1, 20),
      );
      let rotated = 0;
      const runs = await holds(
        fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 4 }), async (pairs) => {
          const cookies = pairs.map(([n, v]) => [n, v()] as const);
          const presented = cookies.find(([n]) => n === REFRESH_COOKIE)?.[1];
          const valid = presented !== undefined && presented === current();
          const response = await send(
            {
              method: 'POST',
              url: '/auth/refresh',
              headers: cookies.length
                ? { cookie: cookies.map(([n, v]) => `${n}=${v}`).join('; ') }
                : {},
            },
            !valid,
          );
          expect(response.statusCode).toBe(valid ? 200 : 401);
          if (!valid) {
            expect(response.headers['set-cookie']).toBeUndefined();
            return;
          }
          rotated++;
          // Keep the rotated credential: the next genuine refresh must present it.
          const next = (response.cookies as Array<{ name: string; value: string }>).find(
            (cookie) => cookie.name === REFRESH_COOKIE,
          )?.value;
          expect(next).toBeDefined();
          holder.cookies.set(REFRESH_COOKIE, { value: next as string, path: '/auth/refresh' });
        }),
        100,
      );
      expect(rotated).toBeGreaterThan(0);
      expect(rotated).toBeLessThan(runs);
      expect((await holder.refresh()).statusCode).toBe(200);
    });
  });

  describe('the DTOs', () => {
    it('never answers a random login body (LoginDto) with 200 or a 500', async () => {
      const body = bodyAround({
        email: fc.oneof(fc.constant(victimEmail), fc.emailAddress(), unicode(40)),
        password: fc.oneof(fc.string({ maxLength: 140 }), unicode(140)),
      });
      await holds(
        fc.asyncProperty(body, async (payload) => {
          fc.pre(JSON.stringify(payload).length < 8000);
          fc.pre(!isObject(payload) || payload.password !== PASSWORD);
          const response = await send(
            {
              method: 'POST',
              url: '/auth/login',
              payload: JSON.stringify(payload),
              headers: { 'content-type': 'application/json' },
            },
            true,
          );
          expect([400, 401]).toContain(response.statusCode);
          expect(response.headers['set-cookie']).toBeUndefined();
        }),
        100,
      );
    });

    it('registers a random body (RegisterDto) only when it is a valid registration, and then it logs in', async () => {
      const body = fc.oneof(
        bodyAround({
          email: fc.oneof(fc.emailAddress(), fc.string(), unicode(30)),
          password: fc.oneof(fc.string({ minLength: 6, maxLength: 130 }), unicode(130)),
          displayName: fc.oneof(fc.string({ maxLength: 110 }), unicode(110)),
        }),
        fc.record({
          email: fc.emailAddress(),
          password: fc.string({ minLength: 6, maxLength: 130 }),
        }),
      );
      let registered = 0;
      await holds(
        fc.asyncProperty(body, async (payload) => {
          fc.pre(JSON.stringify(payload).length < 8000);
          const response = await send(
            {
              method: 'POST',
              url: '/auth/register',
              payload: JSON.stringify(payload),
              headers: { 'content-type': 'application/json' },
            },
            false,
          );
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
        100,
      );
      expect(registered).toBeGreaterThan(0);
    });

    it('answers a random password change (ChangePasswordDto) without the password with 400 or 403, changing nothing', async () => {
      const user = await ownUser();
      const before = await sessionsOf(user.client);
      const password = fc.oneof(
        fc.string({ maxLength: 140 }),
        unicode(140),
        fc.constant(''),
        fc.constant(PASSWORD.toUpperCase()),
        fc.constant(`${PASSWORD} `),
      );
      const body = bodyAround({ currentPassword: password, newPassword: password });
      await holds(
        fc.asyncProperty(body, async (payload) => {
          fc.pre(JSON.stringify(payload).length < 8000);
          fc.pre(!isObject(payload) || payload.currentPassword !== PASSWORD);
          const response = await send(
            {
              method: 'POST',
              url: '/auth/password',
              payload: JSON.stringify(payload),
              headers: {
                'content-type': 'application/json',
                ...credentialsOf(user.client),
              },
            },
            true,
          );
          // The model: a body of exactly the two fields, both strings of the allowed lengths,
          // reaches the password check (and fails it); anything else is refused as such.
          const { currentPassword, newPassword, ...rest } = isObject(payload)
            ? payload
            : ({} as Record<string, unknown>);
          const wellFormed =
            isObject(payload) &&
            Object.keys(rest).length === 0 &&
            typeof currentPassword === 'string' &&
            typeof newPassword === 'string' &&
            characters(currentPassword) >= 1 &&
            characters(currentPassword) <= 128 &&
            characters(newPassword) >= 8 &&
            characters(newPassword) <= 128;
          expect(response.statusCode).toBe(wellFormed ? 403 : 400);
        }),
        60,
      );
      await expectUnchanged(user, before);
    });

    it('answers a random account deletion (DeleteAccountDto) without the password with 400 or 403, deleting nothing', async () => {
      const user = await ownUser();
      const before = await sessionsOf(user.client);
      const body = bodyAround({
        password: fc.oneof(fc.string({ maxLength: 140 }), unicode(140), fc.constant('')),
      });
      await holds(
        fc.asyncProperty(body, async (payload) => {
          fc.pre(JSON.stringify(payload).length < 8000);
          fc.pre(!isObject(payload) || payload.password !== PASSWORD);
          const response = await send(
            {
              method: 'DELETE',
              url: '/account',
              payload: JSON.stringify(payload),
              headers: {
                'content-type': 'application/json',
                ...credentialsOf(user.client),
              },
            },
            true,
          );
          const { password, ...rest } = isObject(payload)
            ? payload
            : ({} as Record<string, unknown>);
          const wellFormed =
            isObject(payload) &&
            Object.keys(rest).length === 0 &&
            typeof password === 'string' &&
            characters(password) >= 1 &&
            characters(password) <= 128;
          expect(response.statusCode).toBe(wellFormed ? 403 : 400);
        }),
        60,
      );
      await expectUnchanged(user, before);
    });

    it('answers a random events query (AccountEventsQueryDto) with 200 exactly when it is a valid page request', async () => {
      const ulid = fc.ulid();
      const key = fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('limit', 'before') },
        { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, 'limit[]', 'LIMIT', 'after') },
        { weight: 1, arbitrary: unicode(10) },
      );
      const value = fc.oneof(
        fc.integer({ min: -5, max: 120 }).map(String),
        fc.constantFrom('1e1', '0x10', ' 5 ', '5.5', '', '-0', '100', '101', 'NaN', 'Infinity'),
        ulid,
        ulid.map((id) => id.toLowerCase()),
        printable(30),
        unicode(30),
      );
      const request = fc.oneof(
        { weight: 4, arbitrary: fc.array(fc.tuple(key, value), { maxLength: 3 }) },
        // Raw text as the query string, percent signs and all: only never a 500.
        { weight: 1, arbitrary: fc.oneof(printable(60), unicode(60)) },
      );
      let pages = 0;
      const runs = await holds(
        fc.asyncProperty(request, async (pairs) => {
          const query =
            typeof pairs === 'string'
              ? pairs.replace(/#/g, '')
              : pairs
                  .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
                  .join('&');
          const response = await send(
            {
              method: 'GET',
              url: `/account/events${query ? `?${query}` : ''}`,
              headers: credentialsOf(victim),
            },
            false,
          );
          if (typeof pairs === 'string') {
            expect([200, 400]).toContain(response.statusCode);
            return;
          }
          // The model: only limit and before, each at most once; limit a whole number from 1 to
          // 100 as Number() reads it (the DTO's @Type), before a cursor's shape.
          const keys = pairs.map(([k]) => k);
          const limit = pairs.find(([k]) => k === 'limit')?.[1];
          const before = pairs.find(([k]) => k === 'before')?.[1];
          const pageSize = limit === undefined ? 20 : Number(limit);
          const valid =
            keys.every((k) => k === 'limit' || k === 'before') &&
            new Set(keys).size === keys.length &&
            Number.isInteger(pageSize) &&
            pageSize >= 1 &&
            pageSize <= 100 &&
            (before === undefined || AUDIT_EVENT_ID_PATTERN.test(before));
          expect(response.statusCode).toBe(valid ? 200 : 400);
          if (!valid) return;
          pages++;
          const { events } = response.json() as { events: Array<{ id: string }> };
          expect(events.length).toBeLessThanOrEqual(pageSize);
          if (before !== undefined) expect(events.every((event) => event.id < before)).toBe(true);
        }),
        100,
      );
      expect(pages).toBeGreaterThan(0);
      expect(pages).toBeLessThan(runs);
    });

    it('ends a session by a random id in the path only when it is one of the caller’s own', async () => {
      const user = await ownUser();
      const own = await sessionsOf(user.client);
      const id = fc.oneof(
        fc.constantFrom(...(genuine().map((client) => client.sessionId) as string[])),
        base64url(22),
        printable(40),
        unicode(40),
        huge.map((text) => text.slice(0, 3000)),
      );
      await holds(
        fc.asyncProperty(id, fc.boolean(), async (sessionId, encode) => {
          fc.pre(!own.includes(sessionId));
          const path = encode ? encodeURIComponent(sessionId) : sessionId.replace(/[/?#]/g, '');
          const response = await send(
            {
              method: 'DELETE',
              url: `/sessions/${path}`,
              headers: credentialsOf(user.client),
            },
            true,
          );
          // 400 for a path the router cannot decode; 404 for any id not the caller's own.
          expect([400, 404]).toContain(response.statusCode);
        }),
        100,
      );
      expect(await sessionsOf(user.client)).toEqual(own);
      for (const client of genuine()) expect((await client.get('/auth/me')).statusCode).toBe(200);
    });

    it('answers random raw bodies and content types on every body route with a 4xx, never a 500', async () => {
      const user = await ownUser();
      const before = await sessionsOf(user.client);
      const route = fc.constantFrom(
        ['POST', '/auth/register'],
        ['POST', '/auth/login'],
        ['POST', '/auth/refresh'],
        ['POST', '/auth/password'],
        ['DELETE', '/account'],
      );
      await holds(
        fc.asyncProperty(
          route,
          fc.oneof(
            fc.constant('application/json'),
            fc.constantFrom(
              'text/plain',
              'application/x-www-form-urlencoded',
              'multipart/form-data',
              'application/json; charset=utf-16',
            ),
            printable(40),
          ),
          fc.oneof(printable(300), unicode(300), fc.json(), huge),
          async ([method, url], type, payload) => {
            const response = await send(
              {
                method: method as 'POST' | 'DELETE',
                url,
                payload,
                headers: {
                  ...(type ? { 'content-type': type } : {}),
                  ...credentialsOf(user.client),
                },
              },
              true,
            );
            expect(response.statusCode).toBeGreaterThanOrEqual(400);
            expect(response.statusCode).toBeLessThan(500);
          },
        ),
        100,
      );
      await expectUnchanged(user, before);
      // The genuine sessions are untouched by all of the above.
      for (const client of genuine()) expect((await client.get('/auth/me')).statusCode).toBe(200);
    });
  });
});
