import { validateEnv } from './env.schema';
import { describeSessions, describeSigningKey, describeUsers } from './startup-report';

describe('start-up report', () => {
  it('says where users are, without credentials', () => {
    expect(describeUsers(validateEnv({}))).toBe('sqlite:./data/fingerprint-auth.db');
    expect(describeUsers(validateEnv({ DATABASE_URL: 'sqlite::memory:' }))).toBe(
      'sqlite::memory: (lost on restart)',
    );
    const postgres = describeUsers(
      validateEnv({
        DATABASE_URL: 'postgres://fpa:s3cret-pw@db.internal:5432/fpa?sslmode=require',
      }),
    );
    expect(postgres).toBe('postgres://db.internal:5432/fpa');
  });

  it('says where sessions are and what a restart or a crash keeps', () => {
    expect(describeSessions(validateEnv({}))).toBe(
      'memory, snapshot every 60 s at ./data/sessions.snapshot: a restart keeps them, a crash loses at most 60 s',
    );
    expect(describeSessions(validateEnv({ SESSION_SNAPSHOT_INTERVAL: '0' }))).toContain(
      'on shutdown only: a restart keeps them, a crash loses every session since the last start',
    );
    expect(describeSessions(validateEnv({ SESSION_SNAPSHOT_PATH: 'off' }))).toContain(
      'a restart logs everyone out',
    );
    const redis = describeSessions(
      validateEnv({
        SESSION_STORE: 'redis',
        REDIS_URL: 'redis://:hunter2-pw@10.0.0.1:7000,10.0.0.2:7000',
      }),
    );
    expect(redis).toBe(
      'redis redis://10.0.0.1:7000, redis://10.0.0.2:7000 (prefix fpa:): kept by Redis across restarts of this service',
    );
    expect(
      describeSessions(
        validateEnv({
          SESSION_STORE: 'redis',
          REDIS_URL: 'redis://10.0.0.1:7000',
          REDIS_WAIT_REPLICAS: '1',
        }),
      ),
    ).toContain('; a login, refresh or revocation is answered once 1 replica(s) have it');
    expect(
      describeSessions(
        validateEnv({
          SESSION_STORE: 'sql',
          DATABASE_URL: 'postgres://fpa:pw@db.internal:5432/fpa',
        }),
      ),
    ).toBe(
      "sql, the users' database (postgres://db.internal:5432/fpa): every change committed as it happens, a restart or a crash keeps them",
    );
  });

  it('says where the key comes from, never what it is', () => {
    const summary = { keyId: 'abc', previousKeys: 0, previousAcceptedUntil: 0 };
    expect(describeSigningKey({ ...summary, origin: { source: 'jwtSecret' } })).toBe('JWT_SECRET');
    expect(
      describeSigningKey({
        ...summary,
        origin: { source: 'jwtSecretFile', path: '/run/secrets/jwt' },
      }),
    ).toBe('JWT_SECRET_FILE (/run/secrets/jwt)');
    expect(
      describeSigningKey({
        ...summary,
        origin: { source: 'dataDir', path: './data/jwt-secret', generated: true },
        previousKeys: 1,
        previousAcceptedUntil: Date.UTC(2026, 0, 1, 0, 15),
      }),
    ).toBe(
      './data/jwt-secret (generated now; kept across restarts); 1 previous key(s) verify until 2026-01-01T00:15:00.000Z',
    );
  });
});
