import { FakeClock } from '../../../common/clock';
import { StoreUnavailableError } from '../../../common/errors';
import { createRedisClient, RedisClient } from '../../../redis/redis-client';
import { decodeLocation, encodeLocation, RedisSessionRepository } from './redis-session.repository';
import type { GeoLocation } from '../../../geoip/geo-location';
import { SessionPolicy } from '../../session';
import { newSessionId } from '../../session-id';

const policy: SessionPolicy = {
  idleTtl: 1800,
  absoluteTtl: 28_800,
  maxPerUser: 5,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

describe('RedisSessionRepository without a reachable Redis', () => {
  let client: RedisClient;
  let repository: RedisSessionRepository;
  const userId = 'user-1';
  const id = newSessionId(userId);

  beforeAll(() => {
    // Nothing listens on this loopback port: every command fails at once (no offline queue).
    client = createRedisClient('redis://127.0.0.1:7399');
    client.on('error', () => undefined);
    repository = new RedisSessionRepository(client, policy, new FakeClock(), 'fpa:');
  });

  afterAll(async () => {
    client.disconnect();
    // ioredis gives a socket that never connected its 2 s disconnect timeout before dropping it.
    await new Promise((resolve) => setTimeout(resolve, 2100));
  });

  it.each([
    [
      'create',
      () =>
        repository.create({
          id,
          userId,
          fingerprintHash: 'f'.repeat(43),
          refreshHash: 'r'.repeat(43),
          ipAddress: '203.0.113.7',
          userAgent: 'Mozilla/5.0',
          location: null,
        }),
    ],
    ['findById', () => repository.findById(id)],
    ['listByUser', () => repository.listByUser(userId)],
    ['touch', () => repository.touch(id, '203.0.113.7', 'Mozilla/5.0')],
    [
      'rotateRefresh',
      () =>
        repository.rotateRefresh(id, {
          presentedHash: 'r'.repeat(43),
          nextRefreshHash: 's'.repeat(43),
          nextFingerprintHash: 'g'.repeat(43),
          ipAddress: '203.0.113.7',
          userAgent: 'Mozilla/5.0',
        }),
    ],
    ['revoke', () => repository.revoke(id, userId)],
    ['revokeAllForUser', () => repository.revokeAllForUser(userId)],
    ['stats', () => repository.stats()],
  ] as const)(
    'fails closed: %s raises StoreUnavailableError for the sessions store',
    async (_name, call) => {
      const failure = await (call as () => Promise<unknown>)().then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect((failure as StoreUnavailableError).store).toBe('sessions');
    },
  );
});

describe('location encoding', () => {
  it.each<[GeoLocation, string]>([
    [{ country: 'GB' }, 'GB'],
    [{ country: 'US', region: 'California' }, '["US","California",null]'],
    [{ country: 'CH', city: 'Zürich' }, '["CH",null,"Zürich"]'],
    [{ country: 'BR', region: 'São Paulo', city: 'Campinas' }, '["BR","São Paulo","Campinas"]'],
  ])('stores %j as %s and reads it back', (location, stored) => {
    expect(encodeLocation(location)).toBe(stored);
    expect(decodeLocation(stored)).toStrictEqual(location);
  });

  it('reads a missing field as no location', () => {
    expect(decodeLocation(undefined)).toBeNull();
  });
});
