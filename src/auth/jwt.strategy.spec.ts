import { DisabledGeoLocator } from '../geoip/geo-locator';
import { AuditTrail } from '../audit/audit-trail';
import { createHmac } from 'node:crypto';
import { Logger } from '@nestjs/common';
import * as jwt from 'jsonwebtoken';
// The module object passport-jwt calls, to count real verifications.
import jsonwebtoken from 'jsonwebtoken';
import { FakeClock } from '../common/clock';
import { resolveModuleConfig } from '../fingerprint-auth-core.module';
import type { HttpRequestLike } from '../http/client';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { SecurityEvents } from '../observability/security-events';
import type { FingerprintAuthOptions } from '../options/fingerprint-auth-options';
import { JwtSecrets, resolveJwtSecrets } from '../options/jwt-secrets';
import { toSeconds } from '../sessions/session';
import { sessionPolicy } from '../sessions/sessions.module';
import { SessionsService } from '../sessions/sessions.service';
import { InMemorySessionRepository } from '../sessions/stores/memory/in-memory-session.repository';
import { openDatabase } from '../database/database';
import { migrateToLatest } from '../users/database/migrations';
import { KyselyUserRepository } from '../users/kysely-user.repository';
import { PasswordHasher } from '../users/password-hasher';
import { UsersService } from '../users/users.service';
import { AccessTokenService } from './access-token.service';
import { AuthRejection } from './auth-rejection';
import { FingerprintService } from './fingerprint.service';
import { CLOCK_SKEW_SECONDS, JwtStrategy } from './jwt.strategy';
import { keyId, SigningKeys } from './signing-keys';

const SECRET = 'unit-test-secret-0123456789-abcdefghij';
const PREVIOUS = 'previous-unit-test-secret-9876543210-zyxwvu';
const keysFor = (clock: FakeClock, previous: string[] = []) =>
  new SigningKeys(
    new JwtSecrets(
      Buffer.from(SECRET),
      previous.map((secret) => Buffer.from(secret)),
      { source: 'jwtSecret' },
    ),
    900,
    clock,
  );

/**
 * The strategy on real adapters: sessions in the in-memory store behind `SessionsService`, users
 * in an in-memory SQLite database behind `UsersService`, an injected clock.
 */
async function strategyOn(
  clock: FakeClock,
  options: FingerprintAuthOptions = {},
  keys?: SigningKeys,
) {
  const config = resolveModuleConfig({ jwtSecret: SECRET, ...options });
  const store = new InMemorySessionRepository(sessionPolicy(config), 100, clock);
  const metrics = new FingerprintAuthMetrics();
  // The audit trail off: this spec is about the strategy, not the events it records.
  const events = new SecurityEvents(
    metrics,
    new AuditTrail(null, clock, metrics, config),
    new DisabledGeoLocator(),
  );
  const database = openDatabase('sqlite::memory:');
  await migrateToLatest(database.db, database.kind);
  const userRepository = new KyselyUserRepository(database);
  const users = new UsersService(userRepository, new PasswordHasher(), clock);
  const fingerprints = new FingerprintService(config);
  const signing = keys ?? new SigningKeys(resolveJwtSecrets(config), config.accessTokenTtl, clock);
  const strategy = new JwtStrategy(
    config,
    signing,
    fingerprints,
    new SessionsService(store, events, clock, config),
    users,
  );
  /** A stored user; its id. */
  const addUser = async () => {
    const email = `u-${Math.random().toString(36).slice(2)}@example.com`;
    const user = await userRepository.create({
      email,
      emailSkeleton: email,
      displayName: null,
      passwordHash: 'not-a-real-hash',
    });
    return user.id;
  };
  return {
    config,
    store,
    users,
    userRepository,
    fingerprints,
    keys: signing,
    strategy,
    addUser,
    close: () => database.db.destroy(),
  };
}

/** A stored user signed in: a session in the fixture's store, its cookie and its token's claims. */
async function signIn(fixture: Awaited<ReturnType<typeof strategyOn>>) {
  const userId = await fixture.addUser();
  const cookie = fixture.fingerprints.draw();
  const { session } = await fixture.store.create({
    id: `s${Math.random().toString(36).slice(2, 12).padEnd(21, 'x')}`,
    userId,
    fingerprintHash: fixture.fingerprints.hash(cookie),
    refreshHash: 'r'.repeat(43),
    ipAddress: '203.0.113.7',
    userAgent: 'Mozilla/5.0',
    location: null,
  });
  // Token times follow the system clock (as jsonwebtoken does), sessions the injected one.
  const iat = toSeconds(Date.now());
  const claims = {
    sub: userId,
    sid: session.id,
    fgp: session.fingerprintHash,
    iat,
    exp: iat + 900,
  };
  return { cookie, session, claims, userId };
}

/** A request carrying the fingerprint cookie (and what else a browser sends). */
const requestOf = (
  cookieName: string,
  cookie: string | undefined,
  ip = '203.0.113.7',
  userAgent = 'Mozilla/5.0',
  authorization?: string,
): HttpRequestLike & { headers: Record<string, string | undefined> } => ({
  ip,
  headers: {
    'user-agent': userAgent,
    ...(cookie === undefined ? {} : { cookie: `${cookieName}=${cookie}` }),
    ...(authorization === undefined ? {} : { authorization }),
  },
});

// The checks of a first-seen token (`validate`, after passport-jwt) and of a remembered one
// (`validateRemembered`, the guard's own path, synchronous where it can be) are the same checks.
describe.each(['validate', 'validateRemembered'] as const)('JwtStrategy.%s', (entry) => {
  let clock: FakeClock;
  let fixture: Awaited<ReturnType<typeof strategyOn>>;
  let sessions: InMemorySessionRepository;
  let fingerprints: FingerprintService;
  let strategy: JwtStrategy;

  const request = (cookie?: string, ip = '203.0.113.7', userAgent = 'Mozilla/5.0') =>
    requestOf(fingerprints.cookieName, cookie, ip, userAgent);

  const check = (
    req: HttpRequestLike,
    token: { header: Record<string, unknown>; payload: unknown },
  ) => Promise.resolve().then(() => strategy[entry](req, token));

  const complete = (
    payload: unknown,
    header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
  ) => ({
    header,
    payload,
  });

  const login = () => signIn(fixture);

  beforeEach(async () => {
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    fixture = await strategyOn(clock, {}, keysFor(clock));
    ({ store: sessions, fingerprints, strategy } = fixture);
  });

  afterEach(() => fixture.close());

  const rejection = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AuthRejection);
    return (error as AuthRejection).reason;
  };

  it('accepts a token whose cookie, claims and session all agree', async () => {
    const { cookie, session, claims } = await login();
    await expect(check(request(cookie), complete(claims))).resolves.toMatchObject({
      userId: claims.sub,
      email: expect.stringMatching(/@example\.com$/),
      sessionId: session.id,
    });
  });

  it('rejects a valid session whose user no longer exists', async () => {
    const { cookie, claims, userId } = await login();
    await fixture.userRepository.delete(userId);
    fixture.users.forget(userId);
    expect(await rejection(check(request(cookie), complete(claims)))).toBe('user_not_found');
  });

  it('rejects a request without the fingerprint cookie', async () => {
    const { claims } = await login();
    expect(await rejection(check(request(undefined), complete(claims)))).toBe(
      'missing_fingerprint',
    );
  });

  it('rejects a cookie that does not hash to the claim', async () => {
    const { claims } = await login();
    const other = await login();
    expect(await rejection(check(request(other.cookie), complete(claims)))).toBe(
      'fingerprint_mismatch',
    );
    expect(await rejection(check(request(claims.fgp), complete(claims)))).toBe(
      'fingerprint_mismatch',
    );
  });

  it('rejects claims that are missing, mistyped or oversized', async () => {
    const { cookie, claims } = await login();
    for (const bad of [
      { ...claims, exp: undefined },
      { ...claims, exp: '2000000000' },
      { ...claims, sub: 42 },
      { ...claims, sid: undefined },
      { ...claims, fgp: `${claims.fgp}x` },
      { ...claims, sid: 'x'.repeat(65) },
      { ...claims, iat: undefined },
      { ...claims, iat: String(claims.iat) },
      { ...claims, iat: claims.iat + CLOCK_SKEW_SECONDS + 1, exp: claims.exp + 60 },
      { ...claims, exp: claims.iat + 901 },
    ]) {
      expect(await rejection(check(request(cookie), complete(bad)))).toBe('invalid_claims');
    }
    expect(await rejection(check(request(cookie), complete([claims])))).toBe('invalid_claims');
    expect(await rejection(check(request(cookie), complete('a string payload')))).toBe(
      'invalid_claims',
    );
  });

  it('accepts an iat up to the clock-skew tolerance ahead and a lifetime of exactly ACCESS_TOKEN_TTL', async () => {
    const { cookie, claims } = await login();
    const ahead = { ...claims, iat: claims.iat + CLOCK_SKEW_SECONDS, exp: claims.exp };
    await expect(check(request(cookie), complete(ahead))).resolves.toBeDefined();
    await expect(
      check(request(cookie), complete({ ...claims, exp: claims.iat + 900 })),
    ).resolves.toBeDefined();
  });

  it('rejects a token with a crit header in any form, an empty list included', async () => {
    const { cookie, claims } = await login();
    for (const crit of [['exp-v2'], [], null, 'exp', {}]) {
      const header = { alg: 'HS256', crit, 'exp-v2': 1 };
      expect(await rejection(check(request(cookie), complete(claims, header)))).toBe(
        'invalid_claims',
      );
    }
  });

  it("rejects a session that is gone, expired, someone else's or bound to another fingerprint", async () => {
    const { cookie, session, claims } = await login();
    expect(await rejection(check(request(cookie), complete({ ...claims, sub: 'user-2' })))).toBe(
      'session_mismatch',
    );
    await sessions.rotateRefresh(session.id, {
      presentedHash: 'r'.repeat(43),
      nextRefreshHash: 'n'.repeat(43),
      nextFingerprintHash: fingerprints.hash(fingerprints.draw()),
      ipAddress: '203.0.113.7',
      userAgent: 'Mozilla/5.0',
    });
    expect(await rejection(check(request(cookie), complete(claims)))).toBe('session_mismatch');

    const second = await login();
    clock.advance(31 * 60_000);
    expect(await rejection(check(request(second.cookie), complete(second.claims)))).toBe(
      'session_not_found',
    );

    const third = await login();
    await sessions.revoke(third.session.id, third.userId);
    expect(await rejection(check(request(third.cookie), complete(third.claims)))).toBe(
      'session_not_found',
    );
  });

  it('writes last activity at most once per interval, but at once when the IP changes', async () => {
    const { cookie, session, claims } = await login();
    const createdAt = session.lastActivity;
    clock.advance(30_000);
    await check(request(cookie), complete(claims));
    expect((await sessions.findById(session.id))?.lastActivity).toBe(createdAt);
    clock.advance(31_000);
    await check(request(cookie), complete(claims));
    expect((await sessions.findById(session.id))?.lastActivity).toBe(createdAt + 61);
    clock.advance(1_000);
    await check(request(cookie, '198.51.100.9'), complete(claims));
    expect(await sessions.findById(session.id)).toMatchObject({
      lastActivity: createdAt + 62,
      ipAddress: '198.51.100.9',
      loginIpAddress: '203.0.113.7',
    });
  });
});

describe('JwtStrategy: answers without a promise, and the tokens it signs', () => {
  let clock: FakeClock;
  let fixture: Awaited<ReturnType<typeof strategyOn>>;

  beforeEach(async () => {
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    fixture = await strategyOn(clock, {}, keysFor(clock));
  });

  afterEach(() => fixture.close());

  it('answers without a promise only when the session and user are at hand and no activity is due', async () => {
    const { cookie, session, claims, userId } = await signIn(fixture);
    const { strategy, store, fingerprints } = fixture;
    const token = { header: { alg: 'HS256', typ: 'JWT' }, payload: claims };
    const from = (ip: string) => requestOf(fingerprints.cookieName, cookie, ip);
    const caller = {
      userId,
      sessionId: session.id,
      email: expect.stringMatching(/@example\.com$/),
    };

    // The user is not cached yet: asked for, behind a promise.
    const first = strategy.validateRemembered(from('203.0.113.7'), token);
    expect(first).toBeInstanceOf(Promise);
    await expect(first).resolves.toMatchObject(caller);
    const atHand = strategy.validateRemembered(from('203.0.113.7'), token);
    expect(atHand).not.toBeInstanceOf(Promise);
    expect(atHand).toMatchObject(caller);

    // Activity due (a new address): written behind a promise, then at hand again.
    const moved = strategy.validateRemembered(from('198.51.100.9'), token);
    expect(moved).toBeInstanceOf(Promise);
    await moved;
    expect((await store.findById(session.id))?.ipAddress).toBe('198.51.100.9');
    expect(strategy.validateRemembered(from('198.51.100.9'), token)).not.toBeInstanceOf(Promise);

    // The user cached too long ago: asked for again.
    clock.advance(31_000);
    const stale = strategy.validateRemembered(from('198.51.100.9'), token);
    expect(stale).toBeInstanceOf(Promise);
    await stale;

    // A refusal from what is at hand is thrown at once; a deleted user is asked for and refused.
    const revoked = await signIn(fixture);
    await store.revoke(revoked.session.id, revoked.userId);
    const refusal = (() => {
      try {
        strategy.validateRemembered(requestOf(fingerprints.cookieName, revoked.cookie), {
          ...token,
          payload: revoked.claims,
        });
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(AuthRejection);
    expect((refusal as AuthRejection).reason).toBe('session_not_found');
    await fixture.userRepository.delete(userId);
    fixture.users.forget(userId);
    await expect(strategy.validateRemembered(from('198.51.100.9'), token)).rejects.toMatchObject({
      reason: 'user_not_found',
    });
  });

  it('signs tokens that the pinned key verifies with exactly the documented claims', () => {
    const tokens = new AccessTokenService(keysFor(clock, [PREVIOUS]), fixture.config);
    const token = tokens.sign('user-1', 'session-id', 'hash');
    const decoded = jwt.verify(token, SECRET, { algorithms: ['HS256'], complete: true });
    // Signed with the current key, never a previous one, and named by its id.
    expect(decoded.header).toEqual({ alg: 'HS256', typ: 'JWT', kid: keyId(Buffer.from(SECRET)) });
    expect(decoded.payload).toEqual({
      sub: 'user-1',
      sid: 'session-id',
      fgp: 'hash',
      iat: expect.any(Number),
      exp: expect.any(Number),
      iss: 'fingerprint-auth',
    });
    const payload = decoded.payload as jwt.JwtPayload;
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
  });
});

/** What passport-jwt decided for one request: the principal, or why it failed. */
type Outcome = { user: unknown } | { fail: unknown } | { error: unknown };

/** Runs the strategy as Passport does (its own action functions on a child object). */
function authenticate(strategy: JwtStrategy, req: HttpRequestLike): Promise<Outcome> {
  return new Promise((resolve) => {
    const run = Object.create(strategy) as JwtStrategy & {
      success(user: unknown): void;
      fail(info: unknown): void;
      error(error: unknown): void;
      authenticate(req: unknown, options: object): void;
    };
    run.success = (user) => resolve({ user });
    run.fail = (info) => resolve({ fail: info });
    run.error = (error) => resolve({ error });
    run.authenticate(req, {});
  });
}

const reasonOf = (outcome: Outcome): string => {
  const why = 'fail' in outcome ? outcome.fail : 'error' in outcome ? outcome.error : null;
  if (why instanceof AuthRejection) return why.reason;
  return why instanceof Error ? why.message : 'accepted';
};

describe('JwtStrategy key selection and rotation (through passport-jwt)', () => {
  const OLD = 'the-old-key-of-the-last-deployment-0123456789';
  const UNKNOWN = 'a-key-this-deployment-never-had-0123456789xyz';
  let clock: FakeClock;
  let fixture: Awaited<ReturnType<typeof strategyOn>>;
  let sessions: InMemorySessionRepository;
  let fingerprints: FingerprintService;
  let keys: SigningKeys;
  let strategy: JwtStrategy;
  let cookie: string;
  let claims: Record<string, unknown>;

  const sign = (secret: string, kid: string | null | unknown = keyId(Buffer.from(secret))) =>
    jwt.sign(claims, secret, {
      algorithm: 'HS256',
      issuer: 'fingerprint-auth',
      ...(kid === null ? {} : { header: { alg: 'HS256', kid } as jwt.JwtHeader }),
    });
  const requestWith = (token: string) =>
    requestOf(fingerprints.cookieName, cookie, '203.0.113.7', 'Mozilla/5.0', `Bearer ${token}`);

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    clock = new FakeClock(Date.now());
    fixture = await strategyOn(clock, { jwtPreviousSecrets: [OLD] });
    ({ store: sessions, fingerprints, strategy, keys } = fixture);
    cookie = fingerprints.draw();
    const userId = await fixture.addUser();
    const { session } = await sessions.create({
      id: `s${Math.random().toString(36).slice(2, 12).padEnd(21, 'x')}`,
      userId,
      fingerprintHash: fingerprints.hash(cookie),
      refreshHash: 'r'.repeat(43),
      ipAddress: '203.0.113.7',
      userAgent: 'Mozilla/5.0',
      location: null,
    });
    const iat = toSeconds(Date.now());
    claims = { sub: userId, sid: session.id, fgp: session.fingerprintHash, iat, exp: iat + 900 };
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await fixture.close();
  });

  it('accepts tokens of the current key, with its kid or (issued before kids) none', async () => {
    expect(reasonOf(await authenticate(strategy, requestWith(sign(SECRET))))).toBe('accepted');
    expect(reasonOf(await authenticate(strategy, requestWith(sign(SECRET, null))))).toBe(
      'accepted',
    );
  });

  it('verifies a token without kid with the current key only', async () => {
    expect(reasonOf(await authenticate(strategy, requestWith(sign(OLD, null))))).toBe(
      'invalid signature',
    );
  });

  it('refuses a kid that names no configured key, or is not a string', async () => {
    for (const kid of [keyId(Buffer.from(UNKNOWN)), 'x', '', 42, null]) {
      const token =
        kid === null
          ? jwt.sign(claims, SECRET, {
              algorithm: 'HS256',
              header: { alg: 'HS256', kid: null } as unknown as jwt.JwtHeader,
            })
          : sign(SECRET, kid);
      expect({ kid, reason: reasonOf(await authenticate(strategy, requestWith(token))) }).toEqual({
        kid,
        reason: 'unknown_key',
      });
    }
    // Signed with the unknown key under its own id: the same refusal, before any HMAC.
    expect(reasonOf(await authenticate(strategy, requestWith(sign(UNKNOWN))))).toBe('unknown_key');
  });

  it('refuses a token whose kid names one key but which another key signed', async () => {
    const oldKid = keyId(Buffer.from(OLD));
    expect(reasonOf(await authenticate(strategy, requestWith(sign(SECRET, oldKid))))).toBe(
      'invalid signature',
    );
  });

  it('accepts a previous key for ACCESS_TOKEN_TTL after start, remembered or not, and never after', async () => {
    const verify = jest.spyOn(jsonwebtoken, 'verify');
    const token = sign(OLD);
    expect(reasonOf(await authenticate(strategy, requestWith(token)))).toBe('accepted');
    expect(verify).toHaveBeenCalledTimes(1);
    // The second time the verified-token cache answers: no HMAC.
    clock.advance(899_000);
    expect(reasonOf(await authenticate(strategy, requestWith(token)))).toBe('accepted');
    expect(verify).toHaveBeenCalledTimes(1);

    // The window closes at start + ACCESS_TOKEN_TTL; the remembered token (its exp is still
    // ahead in real time) is refused, because the key is picked before the cache is asked.
    clock.advance(1_000);
    expect(reasonOf(await authenticate(strategy, requestWith(token)))).toBe('unknown_key');
    expect(reasonOf(await authenticate(strategy, requestWith(sign(OLD))))).toBe('unknown_key');
    expect(verify).toHaveBeenCalledTimes(1);
    // The current key is unaffected.
    expect(reasonOf(await authenticate(strategy, requestWith(sign(SECRET))))).toBe('accepted');
  });

  it('says once that the previous keys can be removed', async () => {
    const log = jest.spyOn(Logger.prototype, 'log');
    const retired = () =>
      log.mock.calls.filter(
        ([entry]) => (entry as { event?: string })?.event === 'previous_keys_retired',
      );
    await authenticate(strategy, requestWith(sign(OLD)));
    expect(retired()).toHaveLength(0);
    clock.advance(900_000);
    await authenticate(strategy, requestWith(sign(OLD)));
    await authenticate(strategy, requestWith(sign(OLD)));
    expect(keys.verificationKeys()).toHaveLength(1);
    expect(retired()).toHaveLength(1);
    expect(JSON.stringify(retired())).not.toContain(OLD);
  });

  it('ignores a previous key equal to the current one', () => {
    const same = new SigningKeys(
      new JwtSecrets(Buffer.from(SECRET), [Buffer.from(SECRET)], { source: 'jwtSecret' }),
      900,
      clock,
    );
    expect(same.verificationKeys()).toHaveLength(1);
  });

  it('refuses a payload segment that is a JSON string holding the claims', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(JSON.stringify(claims))).toString('base64url');
    const input = `${header}.${payload}`;
    const signature = createHmac('sha256', SECRET).update(input).digest('base64url');
    // jsonwebtoken alone takes the claims out of the string: the check is the strategy's.
    expect(jwt.verify(`${input}.${signature}`, SECRET, { algorithms: ['HS256'] })).toMatchObject({
      sub: claims.sub,
    });
    expect(reasonOf(await authenticate(strategy, requestWith(`${input}.${signature}`)))).toBe(
      'malformed_token',
    );
  });

  it('takes the token only from exactly "Bearer <token>"', async () => {
    const token = sign(SECRET);
    for (const header of [`Bearer ${token} junk`, `Bearer  ${token}`, ` Bearer ${token}`]) {
      const req = requestWith(token);
      req.headers.authorization = header;
      expect({ header, reason: reasonOf(await authenticate(strategy, req)) }).toEqual({
        header,
        reason: 'No auth token',
      });
    }
  });
});
