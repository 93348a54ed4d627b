import { randomBytes } from 'node:crypto';
import { InvalidConfigError, validateEnv } from './env.schema';

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
      NODE_ENV: 'development',
      PORT: 3000,
      HOST: '0.0.0.0',
      JWT_ISSUER: 'fingerprint-auth',
      ACCESS_TOKEN_TTL: 900,
      SESSION_IDLE_TTL: 1800,
      SESSION_ABSOLUTE_TTL: 28800,
      MAX_SESSIONS_PER_USER: 5,
      SESSION_LIMIT_POLICY: 'evict-oldest',
      SESSION_CAPACITY: 1_000_000,
      SESSION_STORE: 'memory',
      DATA_DIR: './data',
      DATABASE_URL: 'sqlite:./data/fingerprint-auth.db',
      SESSION_SNAPSHOT_PATH: './data/sessions.snapshot',
      SESSION_SNAPSHOT_PATH_SET: false,
      SESSION_SNAPSHOT_INTERVAL: 60,
      JWT_PREVIOUS_SECRETS: [],
      CLEANUP_CRON: '0 * * * * *',
      COOKIE_SECURE: true,
      CORS_ORIGINS: [],
      TRUST_PROXY: 'false',
      GEOIP: true,
      LOG_LEVEL: 'info',
      RATE_LIMIT_WINDOW: 900,
      RATE_LIMIT_LOGIN_PER_IP: 200,
      RATE_LIMIT_LOGIN_PER_ACCOUNT: 10,
      RATE_LIMIT_REGISTER_PER_IP: 20,
      RATE_LIMIT_REGISTER_PER_ACCOUNT: 5,
      RATE_LIMIT_REFRESH_PER_IP: 300,
      RATE_LIMIT_REFRESH_PER_SESSION: 30,
      RATE_LIMIT_PASSWORD_PER_IP: 30,
      RATE_LIMIT_PASSWORD_PER_ACCOUNT: 10,
    });
    expect(env.JWT_AUDIENCE).toBeUndefined();
  });

  it('reads no file: an unset key is left to resolveJwtSecrets', () => {
    const env = validateEnv({});
    expect(env.JWT_SECRET).toBeUndefined();
    expect(env.JWT_SECRET_FILE).toBeUndefined();
    expect(validateEnv({ JWT_SECRET_FILE: '/run/secrets/none' }).JWT_SECRET_FILE).toBe(
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
    expect(
      validateEnv({ JWT_PREVIOUS_SECRETS: `${secret}, ${other}` }).JWT_PREVIOUS_SECRETS,
    ).toEqual([secret, other]);
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
      DATA_DIR: '/var/lib/fpa/',
      DATABASE_URL: 'sqlite:/var/lib/fpa/fingerprint-auth.db',
      SESSION_SNAPSHOT_PATH: '/var/lib/fpa/sessions.snapshot',
    });
    expect(
      validateEnv({
        DATA_DIR: '/var/lib/fpa',
        DATABASE_URL: 'postgres://db/fpa',
        SESSION_SNAPSHOT_PATH: '/tmp/s.snapshot',
      }),
    ).toMatchObject({
      DATABASE_URL: 'postgres://db/fpa',
      SESSION_SNAPSHOT_PATH: '/tmp/s.snapshot',
      SESSION_SNAPSHOT_PATH_SET: true,
    });
  });

  it('turns snapshots off with SESSION_SNAPSHOT_PATH=off', () => {
    for (const off of ['off', 'OFF']) {
      expect(validateEnv({ SESSION_SNAPSHOT_PATH: off })).toMatchObject({
        SESSION_SNAPSHOT_PATH: undefined,
        SESSION_SNAPSHOT_PATH_SET: true,
      });
    }
  });

  it('refuses insecure cookies in production', () => {
    expect(
      problemsOf({ NODE_ENV: 'production', JWT_SECRET: secret, COOKIE_SECURE: 'false' }),
    ).toEqual([expect.stringContaining('COOKIE_SECURE')]);
  });

  it('reads rate limits as whole numbers and the window as a duration', () => {
    const env = validateEnv({ RATE_LIMIT_WINDOW: '1h', RATE_LIMIT_LOGIN_PER_ACCOUNT: '3' });
    expect([env.RATE_LIMIT_WINDOW, env.RATE_LIMIT_LOGIN_PER_ACCOUNT]).toEqual([3600, 3]);
  });

  it('parses durations with and without units', () => {
    const env = validateEnv({
      ACCESS_TOKEN_TTL: '5m',
      SESSION_IDLE_TTL: '900',
      SESSION_ABSOLUTE_TTL: '8h',
    });
    expect([env.ACCESS_TOKEN_TTL, env.SESSION_IDLE_TTL, env.SESSION_ABSOLUTE_TTL]).toEqual([
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
    expect(env).toMatchObject({ REQUEST_TIMEOUT: 5, HEADERS_TIMEOUT: 5, KEEP_ALIVE_TIMEOUT: 72 });
    expect(env.METRICS_PORT).toBeUndefined();
    expect(env.METRICS_HOST).toBeUndefined();
    expect(validateEnv({ REQUEST_TIMEOUT: '1m', KEEP_ALIVE_TIMEOUT: '2m' })).toMatchObject({
      REQUEST_TIMEOUT: 60,
      KEEP_ALIVE_TIMEOUT: 120,
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
      METRICS_PORT: 9100,
      METRICS_HOST: '127.0.0.1',
    });
  });

  it('turns API docs off by default in production only, and lets API_DOCS decide', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: secret };
    expect(validateEnv(production).API_DOCS).toBe(false);
    expect(validateEnv({ ...production, API_DOCS: 'on' }).API_DOCS).toBe(true);
    expect(validateEnv({}).API_DOCS).toBe(true);
    expect(validateEnv({ NODE_ENV: 'test' }).API_DOCS).toBe(true);
    expect(validateEnv({ API_DOCS: 'off' }).API_DOCS).toBe(false);
  });
});
