import { createHmac, randomBytes } from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { keyId } from '../../src/auth/signing-keys';
import { FingerprintAuthMetrics } from '../../src/observability/metrics';
import { startApp, TestApp } from '../support/app';
import { signedInClient, TestClient } from '../support/client';

/**
 * Signing-key rotation in-process, with the app's FakeClock: JWT_SECRET is the new key and
 * JWT_PREVIOUS_SECRETS the old one, as on every instance during a rotation.
 */
const UNAUTHORIZED = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'Invalid or missing credentials',
};

const NEW_KEY = randomBytes(48).toString('base64url');
const OLD_KEY = randomBytes(48).toString('base64url');
const OTHER_KEY = randomBytes(48).toString('base64url');
const kidOf = (secret: string) => keyId(Buffer.from(secret));

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The claims of a genuine token, signed again with `secret` (and `kid`, unless null). */
function resign(token: string, secret: string, kid: string | null = kidOf(secret)): string {
  const claims = jwt.decode(token) as jwt.JwtPayload;
  const header = { alg: 'HS256', typ: 'JWT', ...(kid === null ? {} : { kid }) };
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('signing-key rotation (e2e)', () => {
  let target: TestApp;
  let client: TestClient;
  let cookie: string;

  beforeAll(async () => {
    target = await startApp({ JWT_SECRET: NEW_KEY, JWT_PREVIOUS_SECRETS: OLD_KEY });
    client = await signedInClient(target);
    cookie = `__Host-Fgp=${client.cookies.get('__Host-Fgp')?.value}`;
  });

  afterAll(() => target.close());

  const me = (token: string) =>
    target.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${token}`, cookie },
    });

  async function rejectionsFor(reason: string): Promise<number> {
    const metric = await target.app
      .get(FingerprintAuthMetrics)
      .registry.getSingleMetric('fpa_guard_rejections_total')
      ?.get();
    return metric?.values.find((value) => value.labels.reason === reason)?.value ?? 0;
  }

  async function expectRejected(name: string, token: string, reason: string) {
    const before = await rejectionsFor(reason);
    const response = await me(token);
    expect({ name, status: response.statusCode, body: response.json() }).toEqual({
      name,
      status: 401,
      body: UNAUTHORIZED,
    });
    expect({ name, counted: (await rejectionsFor(reason)) - before }).toEqual({ name, counted: 1 });
  }

  it('signs new tokens with JWT_SECRET, named by its kid, never with a previous key', () => {
    const token = client.accessToken as string;
    const { header } = jwt.decode(token, { complete: true }) as jwt.Jwt;
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT', kid: kidOf(NEW_KEY) });
    expect(() => jwt.verify(token, NEW_KEY, { algorithms: ['HS256'] })).not.toThrow();
    expect(header.kid).not.toContain(NEW_KEY.slice(0, 8));
  });

  it('accepts the old key within ACCESS_TOKEN_TTL of the start, a kid-less token with the current key only, and refuses an unknown kid', async () => {
    const token = client.accessToken as string;
    const old = resign(token, OLD_KEY);
    expect((await me(old)).statusCode).toBe(200);
    // Again: now from the verified-token cache.
    expect((await me(old)).statusCode).toBe(200);

    expect((await me(resign(token, NEW_KEY, null))).statusCode).toBe(200);
    await expectRejected('kid-less, old key', resign(token, OLD_KEY, null), 'bad_signature');
    await expectRejected('unknown kid', resign(token, OTHER_KEY), 'unknown_key');
    await expectRejected(
      'kid of the old key, signed by another',
      resign(token, OTHER_KEY, kidOf(OLD_KEY)),
      'bad_signature',
    );
  });

  it('refuses the old key once ACCESS_TOKEN_TTL has passed since the start, cached or not', async () => {
    const token = client.accessToken as string;
    const old = resign(token, OLD_KEY);
    expect((await me(old)).statusCode).toBe(200);
    target.clock.advance(target.config.accessTokenTtl * 1000);
    // The token itself has not expired (its exp is in real time, still ahead): only the key's
    // window decides.
    await expectRejected('old key after its window', old, 'unknown_key');
    await expectRejected('a fresh old-key token', resign(token, OLD_KEY), 'unknown_key');
    expect((await me(token)).statusCode).toBe(200);
  });

  it('lets a client whose token this instance cannot verify refresh and carry on (refresh does not depend on the key)', async () => {
    const rolling = await signedInClient(target);
    // What an instance already on a newer key issued for this session: this one knows no such key.
    const fromNewerInstance = resign(rolling.accessToken as string, OTHER_KEY);
    rolling.accessToken = fromNewerInstance;
    expect((await rolling.get('/auth/me')).statusCode).toBe(401);

    const refreshed = await rolling.refresh();
    expect(refreshed.statusCode).toBe(200);
    const { header } = jwt.decode(rolling.accessToken as string, { complete: true }) as jwt.Jwt;
    expect(header.kid).toBe(kidOf(NEW_KEY));
    expect((await rolling.get('/auth/me')).statusCode).toBe(200);
  });
});
