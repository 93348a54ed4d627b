import { createHmac, createSign, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { FingerprintAuthMetrics } from '../../src/observability/metrics';
import { startApp, TEST_SECRET, TestApp } from '../support/app';
import { signedInClient } from '../support/client';

/**
 * Token forgery, black-box: every case sends a crafted bearer token together with the victim's
 * real fingerprint cookie, so the token alone decides. Each must get the one uniform 401.
 */
const UNAUTHORIZED = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'Invalid or missing credentials',
};

const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;

/** A token signed by hand with HMAC, whatever the header says. */
function hmacToken(
  header: Record<string, unknown>,
  payload: unknown,
  key: string | Buffer,
  hash: (typeof HMAC)[keyof typeof HMAC] = 'sha256',
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

function rsaToken(header: Record<string, unknown>, payload: unknown, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
}

function ecToken(header: Record<string, unknown>, payload: unknown, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

describe('token forgery (e2e)', () => {
  let target: TestApp;
  let token: string;
  let cookie: string;
  let claims: jwt.JwtPayload;
  let otherClaims: jwt.JwtPayload;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const attackerJwk = rsa.publicKey.export({ format: 'jwk' });

  beforeAll(async () => {
    target = await startApp();
    const victim = await signedInClient(target);
    const other = await signedInClient(target);
    token = victim.accessToken as string;
    cookie = `__Host-Fgp=${victim.cookies.get('__Host-Fgp')?.value}`;
    claims = jwt.decode(token) as jwt.JwtPayload;
    otherClaims = jwt.decode(other.accessToken as string) as jwt.JwtPayload;
  });

  afterAll(() => target.close());

  const me = (authorization: string, url = '/auth/me') =>
    target.inject({ method: 'GET', url, headers: { authorization, cookie } });

  async function expectRejected(name: string, authorization: string, url?: string) {
    const response = await me(authorization, url);
    expect({ name, status: response.statusCode, body: response.json() }).toEqual({
      name,
      status: 401,
      body: UNAUTHORIZED,
    });
  }

  it('accepts the genuine token with its cookie (the harness works)', async () => {
    const response = await me(`Bearer ${token}`);
    expect(response.statusCode).toBe(200);
  });

  it('refuses alg none in every spelling, with and without a signature', async () => {
    const [, payload, signature] = token.split('.');
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const header = b64({ alg, typ: 'JWT' });
      await expectRejected(`${alg}, empty signature`, `Bearer ${header}.${payload}.`);
      await expectRejected(`${alg}, no third segment`, `Bearer ${header}.${payload}`);
      await expectRejected(`${alg}, old signature`, `Bearer ${header}.${payload}.${signature}`);
    }
  });

  it('refuses HMAC with an empty key', async () => {
    await expectRejected(
      'empty key',
      `Bearer ${hmacToken({ alg: 'HS256', typ: 'JWT' }, claims, '')}`,
    );
  });

  it('refuses HS384 and HS512, even signed with the real key (the algorithm is pinned)', async () => {
    for (const alg of ['HS384', 'HS512'] as const) {
      const forged = hmacToken({ alg, typ: 'JWT' }, claims, TEST_SECRET, HMAC[alg]);
      // The same token verifies with the real key when the algorithm is not pinned: a real signature.
      expect(() => jwt.verify(forged, TEST_SECRET, { algorithms: [alg] })).not.toThrow();
      await expectRejected(alg, `Bearer ${forged}`);
    }
  });

  it('refuses RS256 and ES256 tokens really signed with a key pair', async () => {
    await expectRejected(
      'RS256',
      `Bearer ${rsaToken({ alg: 'RS256', typ: 'JWT' }, claims, rsa.privateKey)}`,
    );
    await expectRejected(
      'ES256',
      `Bearer ${ecToken({ alg: 'ES256', typ: 'JWT' }, claims, ec.privateKey)}`,
    );
  });

  it('refuses HMAC keyed with a public key PEM (RS/HS confusion)', async () => {
    await expectRejected(
      'HS256 keyed with a PEM',
      `Bearer ${hmacToken({ alg: 'HS256', typ: 'JWT' }, claims, rsaPublicPem)}`,
    );
    await expectRejected(
      'RS256 header, HMAC keyed with a PEM',
      `Bearer ${hmacToken({ alg: 'RS256', typ: 'JWT' }, claims, rsaPublicPem)}`,
    );
  });

  it('ignores keys the token brings along: embedded jwk, jku and x5u', async () => {
    const jwkHeader = { alg: 'RS256', typ: 'JWT', jwk: attackerJwk };
    await expectRejected('embedded jwk', `Bearer ${rsaToken(jwkHeader, claims, rsa.privateKey)}`);
    for (const [param, url] of [
      ['jku', 'http://127.0.0.1:7749/jwks.json'],
      ['x5u', 'http://127.0.0.1:7749/cert.pem'],
    ]) {
      await expectRejected(
        `${param} with RS256`,
        `Bearer ${rsaToken({ alg: 'RS256', typ: 'JWT', [param]: url }, claims, rsa.privateKey)}`,
      );
      await expectRejected(
        `${param} with HS256 and an attacker's key`,
        `Bearer ${hmacToken({ alg: 'HS256', typ: 'JWT', [param]: url }, claims, 'attacker-key')}`,
      );
    }
  });

  it('ignores kid: path traversal and injection values', async () => {
    const cases: Array<[string, string]> = [
      ['../../dev/null', ''],
      ['../../../../../../dev/null', ''],
      ["' OR 1=1 --", '1'],
      ["x\" UNION SELECT 'key' --", 'key'],
      ['/proc/self/environ', ''],
    ];
    for (const [kid, key] of cases) {
      await expectRejected(
        `kid ${kid}`,
        `Bearer ${hmacToken({ alg: 'HS256', typ: 'JWT', kid }, claims, key)}`,
      );
    }
  });

  it('refuses tampered claims under the old signature', async () => {
    const [header, , signature] = token.split('.');
    const tampered: Array<[string, jwt.JwtPayload]> = [
      ['sub', { ...claims, sub: otherClaims.sub }],
      ['sid', { ...claims, sid: otherClaims.sid }],
      ['fgp', { ...claims, fgp: otherClaims.fgp }],
      ['exp', { ...claims, exp: (claims.exp as number) + 86_400 }],
    ];
    for (const [name, payload] of tampered) {
      await expectRejected(`tampered ${name}`, `Bearer ${header}.${b64(payload)}.${signature}`);
    }
  });

  it('refuses malformed claims even under the real key', async () => {
    const { exp: _exp, ...withoutExp } = claims;
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'HS256', typ: 'JWT' };
    const cases: Array<[string, unknown]> = [
      ['missing exp', withoutExp],
      ['exp as a string', { ...claims, exp: String(claims.exp) }],
      ['exp in the past', { ...claims, exp: now - 5 }],
      ['nbf in the future', { ...claims, nbf: now + 3600 }],
      ['an array payload', [claims]],
      ['a string payload', 'a string payload'],
      ['a number payload', 42],
      ['null payload', null],
      ['sub as a number', { ...claims, sub: 7 }],
      ['sid as an object', { ...claims, sid: { $ne: '' } }],
      ['another issuer', { ...claims, iss: 'someone-else' }],
    ];
    for (const [name, payload] of cases) {
      await expectRejected(name, `Bearer ${hmacToken(header, payload, TEST_SECRET)}`);
    }
  });

  it('refuses a critical header parameter it does not understand', async () => {
    const header = { alg: 'HS256', typ: 'JWT', crit: ['exp-v2'], 'exp-v2': 1 };
    await expectRejected('unknown crit', `Bearer ${hmacToken(header, claims, TEST_SECRET)}`);
    const notAList = { alg: 'HS256', typ: 'JWT', crit: 'exp' };
    await expectRejected('crit not a list', `Bearer ${hmacToken(notAList, claims, TEST_SECRET)}`);
  });

  it('refuses anything but the scheme, one space and the token in the Authorization header', async () => {
    const cases: Array<[string, string]> = [
      ['trailing junk', `Bearer ${token} junk`],
      ['a second token', `Bearer ${token} ${token}`],
      ['two spaces', `Bearer  ${token}`],
      ['a tab', `Bearer\t${token}`],
      ['leading text', `x Bearer ${token}`],
      ['leading space', ` Bearer ${token}`],
      ['trailing space', `Bearer ${token} `],
      ['trailing comma', `Bearer ${token},`],
    ];
    for (const [name, value] of cases) await expectRejected(name, value);
    // Counted as a token that cannot be used, not as a missing one.
    const metrics = target.app.get(FingerprintAuthMetrics).registry;
    const malformed = async () =>
      (await metrics.getSingleMetric('fpa_guard_rejections_total')?.get())?.values.find(
        (value) => value.labels.reason === 'malformed_token',
      )?.value ?? 0;
    const before = await malformed();
    await expectRejected('trailing junk, counted', `Bearer ${token} junk`);
    expect((await malformed()) - before).toBe(1);
  });

  it('refuses a payload that is a JSON string holding the claims (decoded twice by jsonwebtoken)', async () => {
    const header = { alg: 'HS256', typ: 'JWT' };
    // The payload segment is the JSON text of a string whose content is the claims' JSON.
    await expectRejected(
      'claims as a JSON string',
      `Bearer ${hmacToken(header, JSON.stringify(JSON.stringify(claims)), TEST_SECRET)}`,
    );
  });

  it('refuses any crit header, an empty list included', async () => {
    for (const crit of [[], ['b64'], null, '', {}]) {
      const header = { alg: 'HS256', typ: 'JWT', crit };
      await expectRejected(
        `crit ${JSON.stringify(crit)}`,
        `Bearer ${hmacToken(header, claims, TEST_SECRET)}`,
      );
    }
  });

  it('refuses iat in the future (beyond the clock-skew tolerance) or missing', async () => {
    const header = { alg: 'HS256', typ: 'JWT' };
    const now = Math.floor(Date.now() / 1000);
    const { iat: _iat, ...withoutIat } = claims;
    const cases: Array<[string, unknown]> = [
      ['iat an hour ahead', { ...claims, iat: now + 3600, exp: now + 3600 + 60 }],
      ['iat a minute ahead', { ...claims, iat: now + 60, exp: now + 120 }],
      ['iat missing', withoutIat],
      ['iat as a string', { ...claims, iat: String(claims.iat) }],
    ];
    for (const [name, payload] of cases) {
      await expectRejected(name, `Bearer ${hmacToken(header, payload, TEST_SECRET)}`);
    }
    // Within the tolerance: accepted.
    const slightlyAhead = hmacToken(
      header,
      { ...claims, iat: now + 2, exp: now + 62 },
      TEST_SECRET,
    );
    expect((await me(`Bearer ${slightlyAhead}`)).statusCode).toBe(200);
  });

  it('refuses a token that lives longer than ACCESS_TOKEN_TTL', async () => {
    const header = { alg: 'HS256', typ: 'JWT' };
    const iat = Math.floor(Date.now() / 1000);
    const ttl = target.config.accessTokenTtl;
    await expectRejected(
      'one second too long',
      `Bearer ${hmacToken(header, { ...claims, iat, exp: iat + ttl + 1 }, TEST_SECRET)}`,
    );
    await expectRejected(
      'a year',
      `Bearer ${hmacToken(header, { ...claims, iat, exp: iat + 365 * 86_400 }, TEST_SECRET)}`,
    );
    const exact = hmacToken(header, { ...claims, iat, exp: iat + ttl }, TEST_SECRET);
    expect((await me(`Bearer ${exact}`)).statusCode).toBe(200);
  });

  it('refuses tokens of the wrong shape', async () => {
    const [header, payload, signature] = token.split('.');
    const cases: Array<[string, string]> = [
      ['two segments', `${header}.${payload}`],
      ['four segments', `${header}.${payload}.${signature}.${signature}`],
      ['one segment', header],
      ['empty token', ''],
      ['non-base64 header', `!!!.${payload}.${signature}`],
      ['non-base64 payload', `${header}.%%%%.${signature}`],
      ['non-base64 signature', `${header}.${payload}.***`],
      ['header not JSON', `${b64('not json')}.${payload}.${signature}`],
      ['whitespace inside', `${header}. ${payload}.${signature}`],
      ['20 KB token', `${header}.${'A'.repeat(20_000)}.${signature}`],
    ];
    for (const [name, value] of cases) await expectRejected(name, `Bearer ${value}`);
    await expectRejected('lower-case scheme and no space', `bearer${token}`);
  });

  it('never authenticates a token in the query string', async () => {
    for (const param of ['access_token', 'token', 'jwt', 'authorization']) {
      const response = await target.inject({
        method: 'GET',
        url: `/auth/me?${param}=${encodeURIComponent(token)}`,
        headers: { cookie },
      });
      expect({ param, status: response.statusCode, body: response.json() }).toEqual({
        param,
        status: 401,
        body: UNAUTHORIZED,
      });
    }
  });
});
