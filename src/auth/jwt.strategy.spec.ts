import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import type { FastifyRequest } from 'fastify';
import * as jwt from 'jsonwebtoken';
import { FakeClock } from '../common/clock';
import { Env, validateEnv } from '../config';
import { InMemorySessionRepository } from '../sessions/in-memory-session.repository';
import { AccessTokenService, signingKey } from './access-token.service';
import { AuthRejection } from './auth-rejection';
import { FingerprintService } from './fingerprint.service';
import { JwtStrategy } from './jwt.strategy';

const SECRET = 'unit-test-secret-unit-test-secret-0123';

describe('JwtStrategy.validate', () => {
  let clock: FakeClock;
  let config: ConfigService<Env, true>;
  let sessions: InMemorySessionRepository;
  let fingerprints: FingerprintService;
  let strategy: JwtStrategy;

  const request = (cookie?: string, ip = '203.0.113.7', userAgent = 'Mozilla/5.0') =>
    ({
      cookies: cookie === undefined ? {} : { [fingerprints.cookieName]: cookie },
      ip,
      headers: { 'user-agent': userAgent },
    }) as unknown as FastifyRequest;

  const complete = (
    payload: unknown,
    header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
  ) => ({
    header,
    payload,
  });

  async function login(userId = 'user-1') {
    const cookie = fingerprints.draw();
    const { session } = await sessions.create({
      id: `s${Math.random().toString(36).slice(2, 12).padEnd(21, 'x')}`,
      userId,
      fingerprintHash: fingerprints.hash(cookie),
      refreshHash: 'r'.repeat(43),
      ipAddress: '203.0.113.7',
      userAgent: 'Mozilla/5.0',
      location: null,
    });
    const claims = { sub: userId, sid: session.id, fgp: session.fingerprintHash, exp: 2e9, iat: 1 };
    return { cookie, session, claims };
  }

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    config = new ConfigService(validateEnv({ JWT_SECRET: SECRET }));
    sessions = new InMemorySessionRepository(
      {
        idleTtl: 1800,
        absoluteTtl: 28800,
        maxPerUser: 5,
        limitPolicy: 'evict-oldest',
        refreshGracePeriod: 10,
      },
      100,
      clock,
    );
    fingerprints = new FingerprintService(config);
    strategy = new JwtStrategy(config, fingerprints, sessions, clock);
  });

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
    await expect(strategy.validate(request(cookie), complete(claims))).resolves.toMatchObject({
      userId: 'user-1',
      sessionId: session.id,
    });
  });

  it('rejects a request without the fingerprint cookie', async () => {
    const { claims } = await login();
    expect(await rejection(strategy.validate(request(undefined), complete(claims)))).toBe(
      'missing_fingerprint',
    );
  });

  it('rejects a cookie that does not hash to the claim', async () => {
    const { claims } = await login();
    const other = await login();
    expect(await rejection(strategy.validate(request(other.cookie), complete(claims)))).toBe(
      'fingerprint_mismatch',
    );
    expect(await rejection(strategy.validate(request(claims.fgp), complete(claims)))).toBe(
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
    ]) {
      expect(await rejection(strategy.validate(request(cookie), complete(bad)))).toBe(
        'invalid_claims',
      );
    }
    expect(await rejection(strategy.validate(request(cookie), complete([claims])))).toBe(
      'invalid_claims',
    );
    expect(await rejection(strategy.validate(request(cookie), complete('a string payload')))).toBe(
      'invalid_claims',
    );
  });

  it('rejects a token that lists a critical header it does not understand', async () => {
    const { cookie, claims } = await login();
    const header = { alg: 'HS256', crit: ['exp-v2'], 'exp-v2': 1 };
    expect(await rejection(strategy.validate(request(cookie), complete(claims, header)))).toBe(
      'invalid_claims',
    );
  });

  it("rejects a session that is gone, expired, someone else's or bound to another fingerprint", async () => {
    const { cookie, session, claims } = await login();
    expect(
      await rejection(strategy.validate(request(cookie), complete({ ...claims, sub: 'user-2' }))),
    ).toBe('session_mismatch');
    await sessions.rotateRefresh(session.id, {
      presentedHash: 'r'.repeat(43),
      nextRefreshHash: 'n'.repeat(43),
      nextFingerprintHash: fingerprints.hash(fingerprints.draw()),
      ipAddress: '203.0.113.7',
      userAgent: 'Mozilla/5.0',
    });
    expect(await rejection(strategy.validate(request(cookie), complete(claims)))).toBe(
      'session_mismatch',
    );

    const second = await login();
    clock.advance(31 * 60_000);
    expect(
      await rejection(strategy.validate(request(second.cookie), complete(second.claims))),
    ).toBe('session_not_found');

    const third = await login();
    await sessions.revoke(third.session.id, 'user-1');
    expect(await rejection(strategy.validate(request(third.cookie), complete(third.claims)))).toBe(
      'session_not_found',
    );
  });

  it('writes last activity at most once per interval, but at once when the IP changes', async () => {
    const { cookie, session, claims } = await login();
    const createdAt = session.lastActivity;
    clock.advance(30_000);
    await strategy.validate(request(cookie), complete(claims));
    expect((await sessions.findById(session.id))?.lastActivity).toBe(createdAt);
    clock.advance(31_000);
    await strategy.validate(request(cookie), complete(claims));
    expect((await sessions.findById(session.id))?.lastActivity).toBe(createdAt + 61);
    clock.advance(1_000);
    await strategy.validate(request(cookie, '198.51.100.9'), complete(claims));
    expect(await sessions.findById(session.id)).toMatchObject({
      lastActivity: createdAt + 62,
      ipAddress: '198.51.100.9',
      loginIpAddress: '203.0.113.7',
    });
  });

  it('signs tokens that the pinned key verifies with exactly the documented claims', () => {
    const tokens = new AccessTokenService(
      new JwtService({
        privateKey: signingKey(config),
        signOptions: { algorithm: 'HS256', expiresIn: 900, issuer: 'fingerprint-auth' },
      }),
      config,
    );
    const token = tokens.sign('user-1', 'session-id', 'hash');
    const decoded = jwt.verify(token, SECRET, { algorithms: ['HS256'], complete: true });
    expect(decoded.header).toEqual({ alg: 'HS256', typ: 'JWT' });
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
