import { createSecretKey, randomBytes } from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { FingerprintService } from '../src/auth/fingerprint.service';
import { safeEqual } from '../src/common/hashes';
import { readClaims, CompleteToken, verificationKeyFor } from '../src/auth/jwt.strategy';
import { SigningKeys } from '../src/auth/signing-keys';
import { VerifiedTokenCache } from '../src/auth/verified-token-cache';
import { SystemClock } from '../src/common/clock';
import { validateEnv } from '../src/config';
import { JwtSecrets } from '../src/options/jwt-secrets';
import { InMemorySessionRepository } from '../src/sessions/stores/memory/in-memory-session.repository';
import { Session } from '../src/sessions/session';
import { SessionFixtures } from './lib/session-fixtures';
import { blackhole, nsPerAsyncOp, nsPerOp } from './lib/stats';

export interface MicroResult {
  readonly id: string;
  readonly label: string;
  readonly nsPerOp: number;
}

const ISSUER = 'fingerprint-auth';

/**
 * The guard's pieces in isolation, in this process: what each step costs without Passport and
 * Nest around it. Compared with the per-step cost measured through the server, the gap is
 * framework overhead.
 */
export async function microBenchmarks(
  iterations: number,
  storeSize: number,
): Promise<MicroResult[]> {
  const secret = randomBytes(48).toString('base64url');
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const config = validateEnv({ JWT_SECRET: secret, NODE_ENV: 'production' });
  const fingerprints = new FingerprintService(config);
  const repository = new InMemorySessionRepository(
    {
      idleTtl: 1800,
      absoluteTtl: 28800,
      maxPerUser: 10,
      limitPolicy: 'evict-oldest',
      refreshGracePeriod: 10,
    },
    storeSize * 2,
    new SystemClock(),
  );
  const fixtures = new SessionFixtures(10);
  const sessions: Session[] = [];
  for (let i = 0; i < storeSize; i++)
    sessions.push((await repository.create(fixtures.next())).session);

  const cookie = fingerprints.draw();
  const fgp = fingerprints.hash(cookie);
  const session = sessions[sessions.length >> 1];
  const serviceToken = jwt.sign({ sid: session.id, fgp }, key, {
    algorithm: 'HS256',
    expiresIn: 900,
    issuer: ISSUER,
    subject: session.userId,
  });
  const docsToken = jwt.sign({ sub: session.userId, sid: session.id }, secret, { expiresIn: '1h' });
  const verifyOptions: jwt.VerifyOptions & { complete: true } = {
    algorithms: ['HS256'],
    issuer: ISSUER,
    complete: true,
  };
  // Sanity: each piece must succeed, or the timing below measures an early failure.
  const limits = { now: Math.floor(Date.now() / 1000), maxLifetime: 900 };
  readClaims(
    jwt.verify(serviceToken, key as unknown as string, verifyOptions) as unknown as CompleteToken,
    limits,
  );
  jwt.verify(docsToken, secret);
  if (!fingerprints.matches(cookie, fgp)) throw new Error('micro: fingerprint check failed');

  const ids = sessions.map((s) => s.id);
  const results: MicroResult[] = [];
  const add = (id: string, label: string, ns: number) => results.push({ id, label, nsPerOp: ns });

  add(
    'jwt-keyobject',
    'jsonwebtoken verify, KeyObject secret, HS256 pinned (the service)',
    nsPerOp(() => jwt.verify(serviceToken, key as unknown as string, verifyOptions), iterations)
      .nsPerOp,
  );
  // What the strategy does instead for a token it verified before (every request of a session
  // after its first, until the token is refreshed): the cache, and the key still accepted.
  const keys = new SigningKeys(
    new JwtSecrets(Buffer.from(secret), [], { source: 'jwtSecret' }),
    900,
    new SystemClock(),
  );
  const verifiedTokens = new VerifiedTokenCache();
  const seen = jwt.verify(serviceToken, key as unknown as string, verifyOptions);
  verifiedTokens.set(serviceToken, seen, keys.current.key);
  const hit = () => {
    const known = verifiedTokens.get(serviceToken, Date.now());
    return known !== undefined && keys.verificationKey(undefined) === known.key;
  };
  if (!hit()) throw new Error('micro: cached verification failed');
  add(
    'jwt-cached',
    'verified-token cache hit (the strategy, token seen before): lookup and key check',
    nsPerOp(hit, iterations).nsPerOp,
  );
  add(
    'jwt-string',
    'jsonwebtoken verify, string secret (NestJS docs, baseline A)',
    // ~1 ms a call (see the profile): far fewer iterations.
    nsPerOp(() => jwt.verify(docsToken, secret), Math.max(100, Math.round(iterations / 50)))
      .nsPerOp,
  );
  const decoded = jwt.verify(
    serviceToken,
    key as unknown as string,
    verifyOptions,
  ) as unknown as CompleteToken;
  add(
    'claims',
    'claim shape check (readClaims)',
    nsPerOp(() => readClaims(decoded, limits), iterations).nsPerOp,
  );
  // What a request pays before the signature when its token is not in the cache.
  verificationKeyFor(keys, serviceToken);
  add(
    'key',
    'key selection by kid, header and payload shape (verificationKeyFor)',
    nsPerOp(() => verificationKeyFor(keys, serviceToken), iterations).nsPerOp,
  );
  add(
    'fingerprint',
    'fingerprint: pattern, SHA-256, timingSafeEqual',
    nsPerOp(() => fingerprints.matches(cookie, fgp), iterations).nsPerOp,
  );
  add(
    'find',
    `repository findById + owner and hash check (${storeSize.toLocaleString('en-US')} sessions)`,
    (
      await nsPerAsyncOp(async (i) => {
        const found = await repository.findById(ids[(i * 7919) % ids.length]);
        return (
          found !== null &&
          found.userId.length > 0 &&
          safeEqual(found.fingerprintHash, found.fingerprintHash)
        );
      }, iterations)
    ).nsPerOp,
  );
  add(
    'touch',
    'repository touch (activity write)',
    (
      await nsPerAsyncOp((i) => {
        // The same client as at login, as on the step-4 route: no address or agent change to record.
        const target = sessions[(i * 7919) % sessions.length];
        return repository.touch(target.id, target.ipAddress, target.userAgent);
      }, iterations)
    ).nsPerOp,
  );
  blackhole(sessions);
  return results;
}
