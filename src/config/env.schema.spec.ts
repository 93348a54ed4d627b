import { InvalidConfigError, validateEnv } from './env.schema';

const secret = 'x'.repeat(32);

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
      DATABASE_URL: 'sqlite:./data/fingerprint-auth.db',
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

  it('draws a random secret in development and says so', () => {
    const first = validateEnv({});
    const second = validateEnv({});
    expect(first.JWT_SECRET_GENERATED).toBe(true);
    expect(Buffer.byteLength(first.JWT_SECRET)).toBeGreaterThanOrEqual(32);
    expect(first.JWT_SECRET).not.toBe(second.JWT_SECRET);
    expect(validateEnv({ JWT_SECRET: secret }).JWT_SECRET_GENERATED).toBe(false);
  });

  it('refuses production without a secret of 32 bytes or more', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      expect.stringContaining('JWT_SECRET is required'),
    ]);
    expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toEqual([
      expect.stringContaining('JWT_SECRET must be at least 32 bytes'),
    ]);
    expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: secret })).toEqual([]);
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
