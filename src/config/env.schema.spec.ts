import { randomBytes } from 'node:crypto';
import { InvalidConfigError } from '../options/settings';
import { validateEnv } from './env.schema';

const secret = randomBytes(48).toString('base64url');

function problemsOf(raw: Record<string, string>): string[] {
  try {
    validateEnv(raw);
  } catch (error) {
    if (error instanceof InvalidConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('validateEnv', () => {
  it('applies the documented defaults', () => {
    const env = validateEnv({});
    expect(env).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      host: '0.0.0.0',
      jwtIssuer: 'fingerprint-auth',
      accessTokenTtl: 900,
      sessionIdleTtl: 1800,
      sessionAbsoluteTtl: 28800,
      maxSessionsPerUser: 5,
      sessionLimitPolicy: 'evict-oldest',
      sessionCapacity: 1_000_000,
      sessionStore: 'memory',
      dataDir: './data',
      databaseUrl: 'sqlite:./data/fingerprint-auth.db',
      sessionSnapshotPath: './data/sessions.snapshot',
      sessionSnapshotPathSet: false,
      sessionSnapshotInterval: 60,
      jwtPreviousSecrets: [],
      cleanupCron: '0 * * * * *',
      cookieSecure: true,
      corsOrigins: [],
      trustProxy: 'false',
      geoip: true,
      logLevel: 'info',
      rateLimitWindow: 900,
      rateLimitLoginPerIp: 200,
      rateLimitLoginPerAccount: 10,
      rateLimitRegisterPerIp: 20,
      rateLimitRegisterPerAccount: 5,
      rateLimitRefreshPerIp: 300,
      rateLimitRefreshPerSession: 30,
      rateLimitPasswordPerIp: 30,
      rateLimitPasswordPerAccount: 10,
    });
    expect(env.jwtAudience).toBeUndefined();
  });

  it('reads no file: an unset key is left to resolveJwtSecrets', () => {
    const env = validateEnv({});
    expect(env.jwtSecret).toBeUndefined();
    expect(env.jwtSecretFile).toBeUndefined();
    expect(validateEnv({ JWT_SECRET_FILE: '/run/secrets/none' }).jwtSecretFile).toBe(
      '/run/secrets/none',
    );
  });

  it('refuses production without JWT_SECRET or JWT_SECRET_FILE, or with a short key', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      expect.stringContaining('JWT_SECRET or JWT_SECRET_FILE is required'),
    ]);
    expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toEqual([
      expect.stringContaining('JWT_SECRET must be at least 32 bytes'),
    ]);
    expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: secret })).toEqual([]);
    expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET_FILE: '/run/secrets/jwt' })).toEqual([]);
  });

  it('refuses a key with fewer than 16 distinct byte values, naming the variable', () => {
    for (const weak of ['g'.repeat(32), 'abcdefghijklmno'.repeat(4), 'ghijklmnopqrstu'.repeat(3)]) {
      const problems = problemsOf({ JWT_SECRET: weak });
      expect(problems).toEqual([expect.stringMatching(/^JWT_SECRET .*16 distinct byte values/)]);
      expect(problems.join()).not.toContain(weak);
    }
    expect(problemsOf({ JWT_SECRET: randomBytes(48).toString('base64url') })).toEqual([]);
    expect(problemsOf({ JWT_SECRET: 'abcdefghijklmnop'.repeat(2) })).toEqual([]);
  });

  it('judges a hex key by its digits: 64 of them (256 bits), at least 12 distinct', () => {
    // 32 x 'a' and a repeated run of ten digits are hex too: refused for their few digits.
    for (const weak of ['a'.repeat(64), '0123456789'.repeat(10)]) {
      expect(problemsOf({ JWT_SECRET: weak })).toEqual([
        expect.stringMatching(/^JWT_SECRET must use at least 12 distinct hex digits/),
      ]);
    }
    expect(problemsOf({ JWT_SECRET: randomBytes(16).toString('hex') })).toEqual([
      expect.stringMatching(/^JWT_SECRET must be at least 64 hex digits \(256 bits\)/),
    ]);
    // A random 256-bit hex key lacking a digit or two (a quarter of them) is fine.
    expect(problemsOf({ JWT_SECRET: '0123456789abcd'.repeat(5) })).toEqual([]);
    for (let i = 0; i < 200; i++) {
      expect(problemsOf({ JWT_SECRET: randomBytes(32).toString('hex') })).toEqual([]);
    }
  });

  it('checks every previous key like JWT_SECRET and reads them as a list', () => {
    const other = randomBytes(48).toString('base64url');
    expect(validateEnv({ JWT_PREVIOUS_SECRETS: `${secret}, ${other}` }).jwtPreviousSecrets).toEqual(
      [secret, other],
    );
    const problems = problemsOf({ JWT_PREVIOUS_SECRETS: `${secret},${'x'.repeat(40)},short` });
    expect(problems).toEqual([
      expect.stringMatching(/^JWT_PREVIOUS_SECRETS \(entry 2\) .*distinct/),
      expect.stringMatching(/^JWT_PREVIOUS_SECRETS \(entry 3\) must be at least 32 bytes/),
    ]);
    expect(problems.join()).not.toContain('b'.repeat(40));
  });

  it('refuses JWT_SECRET and JWT_SECRET_FILE together (ambiguous)', () => {
    expect(problemsOf({ JWT_SECRET: secret, JWT_SECRET_FILE: '/run/secrets/jwt' })).toEqual([
      expect.stringMatching(/JWT_SECRET and JWT_SECRET_FILE are both set/),
    ]);
  });

  it('keeps the embedded defaults in DATA_DIR', () => {
    expect(validateEnv({ DATA_DIR: '/var/lib/fpa/' })).toMatchObject({
      dataDir: '/var/lib/fpa/',
      databaseUrl: 'sqlite:/var/lib/fpa/fingerprint-auth.db',
      sessionSnapshotPath: '/var/lib/fpa/sessions.snapshot',
    });
    expect(
      validateEnv({
        DATA_DIR: '/var/lib/fpa',
        DATABASE_URL: 'postgres://db/fpa',
        SESSION_SNAPSHOT_PATH: '/tmp/s.snapshot',
      }),
    ).toMatchObject({
      databaseUrl: 'postgres://db/fpa',
      sessionSnapshotPath: '/tmp/s.snapshot',
      sessionSnapshotPathSet: true,
    });
  });

  it('turns snapshots off with SESSION_SNAPSHOT_PATH=off', () => {
    for (const off of ['off', 'OFF']) {
      expect(validateEnv({ SESSION_SNAPSHOT_PATH: off })).toMatchObject({
        sessionSnapshotPath: undefined,
        sessionSnapshotPathSet: true,
      });
    }
  });

  it('refuses insecure cookies in production', () => {
    expect(
      problemsOf({ NODE_ENV: 'production', JWT_SECRET: secret, COOKIE_SECURE: 'false' }),
    ).toEqual([expect.stringContaining('COOKIE_SECURE')]);
  });

  it('takes REFRESH_COOKIE_PATH as a path, refusing what would break the cookie header', () => {
    expect(validateEnv({ REFRESH_COOKIE_PATH: '/identity/auth/refresh' }).refreshCookiePath).toBe(
      '/identity/auth/refresh',
    );
    for (const bad of ['auth/refresh', '/a b', '/a;Domain=evil.example', '/a,b']) {
      expect(problemsOf({ REFRESH_COOKIE_PATH: bad })).toEqual([
        expect.stringContaining('REFRESH_COOKIE_PATH must be a URL path'),
      ]);
    }
  });

  it('reads rate limits as whole numbers and the window as a duration', () => {
    const env = validateEnv({ RATE_LIMIT_WINDOW: '1h', RATE_LIMIT_LOGIN_PER_ACCOUNT: '3' });
    expect([env.rateLimitWindow, env.rateLimitLoginPerAccount]).toEqual([3600, 3]);
  });

  it('parses durations with and without units', () => {
    const env = validateEnv({
      ACCESS_TOKEN_TTL: '5m',
      SESSION_IDLE_TTL: '900',
      SESSION_ABSOLUTE_TTL: '8h',
    });
    expect([env.accessTokenTtl, env.sessionIdleTtl, env.sessionAbsoluteTtl]).toEqual([
      300, 900, 28800,
    ]);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['ACCESS_TOKEN_TTL', '15 minutes'],
    ['SESSION_LIMIT_POLICY', 'random'],
    ['SESSION_STORE', 'mongo'],
    ['MAX_SESSIONS_PER_USER', '0'],
    ['COOKIE_SECURE', 'maybe'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['CORS_ORIGINS', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
    ['TRUST_PROXY', 'everyone'],
    ['TRUST_PROXY', '1'],
    ['CLEANUP_CRON', 'often'],
    ['RATE_LIMIT_WINDOW', '0'],
    ['RATE_LIMIT_WINDOW', '2d'],
    ['RATE_LIMIT_LOGIN_PER_IP', '0'],
    ['RATE_LIMIT_LOGIN_PER_ACCOUNT', 'ten'],
    ['RATE_LIMIT_REFRESH_PER_SESSION', '-1'],
    ['RATE_LIMIT_PASSWORD_PER_ACCOUNT', '1.5'],
  ])('names %s when it is %p', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain(name);
  });

  it('waits for no Redis replica unless told, and for at most 400 ms when told', () => {
    expect(validateEnv({})).toMatchObject({ redisWaitReplicas: 0, redisWaitTimeoutMs: 100 });
    expect(validateEnv({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '250' })).toMatchObject({
      redisWaitReplicas: 1,
      redisWaitTimeoutMs: 250,
    });
    for (const [name, value] of [
      ['REDIS_WAIT_REPLICAS', '-1'],
      ['REDIS_WAIT_REPLICAS', 'one'],
      ['REDIS_WAIT_REPLICAS', '17'],
      // 0 would make Redis wait forever; above 400 the command times out first.
      ['REDIS_WAIT_TIMEOUT_MS', '0'],
      ['REDIS_WAIT_TIMEOUT_MS', '500'],
      ['REDIS_WAIT_TIMEOUT_MS', '1s'],
    ]) {
      const problems = problemsOf({ [name]: value });
      expect(problems.length).toBeGreaterThan(0);
      for (const problem of problems) expect(problem).toContain(name);
    }
  });

  it('requires REDIS_URL for the redis store and an idle TTL within the absolute one', () => {
    expect(problemsOf({ SESSION_STORE: 'redis' }).join()).toContain('REDIS_URL');
    expect(problemsOf({ SESSION_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual([]);
    expect(problemsOf({ SESSION_IDLE_TTL: '9h' }).join()).toContain('SESSION_IDLE_TTL');
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf({ PORT: 'x', LOG_LEVEL: 'y' });
    expect(problems.join('\n')).toMatch(/PORT[\s\S]*LOG_LEVEL|LOG_LEVEL[\s\S]*PORT/);
  });
});

describe('validateEnv: the HTTP edge', () => {
  it('has request, header and keep-alive timeouts by default, and no metrics port', () => {
    const env = validateEnv({});
    expect(env).toMatchObject({ requestTimeout: 5, headersTimeout: 5, keepAliveTimeout: 72 });
    expect(env.metricsPort).toBeUndefined();
    expect(env.metricsHost).toBeUndefined();
    expect(validateEnv({ REQUEST_TIMEOUT: '1m', KEEP_ALIVE_TIMEOUT: '2m' })).toMatchObject({
      requestTimeout: 60,
      keepAliveTimeout: 120,
    });
  });

  it.each([
    ['REQUEST_TIMEOUT', '0'],
    ['HEADERS_TIMEOUT', 'soon'],
    ['KEEP_ALIVE_TIMEOUT', '0'],
    ['METRICS_PORT', '0'],
    ['METRICS_PORT', '70000'],
    ['METRICS_PORT', 'metrics'],
    ['API_DOCS', 'maybe'],
  ])('names %s when it is %p', (name, value) => {
    expect(problemsOf({ [name]: value }).join('\n')).toContain(name);
  });

  it('keeps the headers deadline within the request deadline, and the metrics port apart', () => {
    expect(problemsOf({ HEADERS_TIMEOUT: '10', REQUEST_TIMEOUT: '5' })).toEqual([
      expect.stringContaining('HEADERS_TIMEOUT must not exceed REQUEST_TIMEOUT'),
    ]);
    expect(problemsOf({ HEADERS_TIMEOUT: '5', REQUEST_TIMEOUT: '30' })).toEqual([]);
    expect(problemsOf({ PORT: '3000', METRICS_PORT: '3000' })).toEqual([
      'METRICS_PORT must differ from PORT',
    ]);
    expect(validateEnv({ METRICS_PORT: '9100', METRICS_HOST: '127.0.0.1' })).toMatchObject({
      metricsPort: 9100,
      metricsHost: '127.0.0.1',
    });
  });

  it('turns API docs off by default in production only, and lets API_DOCS decide', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: secret };
    expect(validateEnv(production).apiDocs).toBe(false);
    expect(validateEnv({ ...production, API_DOCS: 'on' }).apiDocs).toBe(true);
    expect(validateEnv({}).apiDocs).toBe(true);
    expect(validateEnv({ NODE_ENV: 'test' }).apiDocs).toBe(true);
    expect(validateEnv({ API_DOCS: 'off' }).apiDocs).toBe(false);
  });
});
