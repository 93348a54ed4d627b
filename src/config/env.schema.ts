import { randomBytes } from 'node:crypto';
import { applyDecorators } from '@nestjs/common';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import { parseDuration } from './duration';

export const NODE_ENVS = ['development', 'production', 'test'] as const;
export const SESSION_LIMIT_POLICIES = ['evict-oldest', 'reject'] as const;
export const SESSION_STORES = ['memory', 'redis'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type SessionLimitPolicy = (typeof SESSION_LIMIT_POLICIES)[number];
export type SessionStoreKind = (typeof SESSION_STORES)[number];

const empty = (value: unknown): boolean => value === undefined || value === null || value === '';

/** Turns `'15m'` / `'900'` into seconds; leaves anything unparsable as NaN so validation names the variable. */
const duration = () =>
  Transform(({ value }) => (empty(value) ? undefined : parseDuration(String(value))));
const integer = () =>
  Transform(({ value }) =>
    empty(value) ? undefined : /^-?\d+$/.test(String(value)) ? Number(value) : NaN,
  );
const boolean = () =>
  Transform(({ value }) => {
    if (empty(value)) return undefined;
    const text = String(value).toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    return value;
  });
const trimmed = () => Transform(({ value }) => (empty(value) ? undefined : String(value).trim()));
const list = () =>
  Transform(({ value }) =>
    empty(value)
      ? []
      : String(value)
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean),
  );

/** An attempt count per window: a whole number from 1 to 1,000,000. */
const rateLimit = () => applyDecorators(integer(), IsInt(), Min(1), Max(1_000_000));

/**
 * Every environment variable the service reads, with its default. Validated once at start;
 * the rest of the code reads the typed result through `ConfigService<Env, true>`.
 */
export class EnvironmentVariables {
  @IsIn(NODE_ENVS)
  NODE_ENV: (typeof NODE_ENVS)[number] = 'development';

  @integer()
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @trimmed()
  @IsString()
  @MinLength(1)
  HOST = '0.0.0.0';

  @IsOptional()
  @IsString()
  JWT_SECRET?: string;

  @trimmed()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  JWT_ISSUER = 'fingerprint-auth';

  @IsOptional()
  @trimmed()
  @IsString()
  @MaxLength(256)
  JWT_AUDIENCE?: string;

  @duration()
  @IsInt()
  @Min(10)
  @Max(24 * 3600)
  ACCESS_TOKEN_TTL = 15 * 60;

  @duration()
  @IsInt()
  @Min(10)
  SESSION_IDLE_TTL = 30 * 60;

  @duration()
  @IsInt()
  @Min(10)
  SESSION_ABSOLUTE_TTL = 8 * 3600;

  /** Last-activity writes happen at most this often per session (seconds). */
  @duration()
  @IsInt()
  @Min(0)
  SESSION_ACTIVITY_INTERVAL = 60;

  /** A refresh credential that was just rotated is still honoured this long (two tabs refreshing at once). */
  @duration()
  @IsInt()
  @Min(0)
  @Max(300)
  REFRESH_GRACE_PERIOD = 10;

  @integer()
  @IsInt()
  @Min(1)
  @Max(1000)
  MAX_SESSIONS_PER_USER = 5;

  @IsIn(SESSION_LIMIT_POLICIES)
  SESSION_LIMIT_POLICY: SessionLimitPolicy = 'evict-oldest';

  @integer()
  @IsInt()
  @Min(1)
  SESSION_CAPACITY = 1_000_000;

  @IsIn(SESSION_STORES)
  SESSION_STORE: SessionStoreKind = 'memory';

  @IsOptional()
  @trimmed()
  @IsString()
  @Matches(/^rediss?:\/\/[^,\s]+(,\s*(rediss?:\/\/)?[^,\s]+)*$/, {
    message: 'REDIS_URL must be redis://host:port (comma-separated nodes for Redis Cluster)',
  })
  REDIS_URL?: string;

  @trimmed()
  @IsString()
  @MaxLength(64)
  REDIS_KEY_PREFIX = 'fpa:';

  @trimmed()
  @IsString()
  @Matches(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, {
    message:
      'DATABASE_URL must be sqlite:<path> (or sqlite::memory:) or postgres://user@host:port/db',
  })
  DATABASE_URL = 'sqlite:./data/fingerprint-auth.db';

  @trimmed()
  @IsString()
  @Matches(/^(\S+\s+){4,5}\S+$/, {
    message: 'CLEANUP_CRON must be a cron expression with 5 or 6 fields',
  })
  CLEANUP_CRON = '0 * * * * *';

  /** Sessions examined per cleanup batch before yielding to the event loop. */
  @integer()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  CLEANUP_BATCH_SIZE = 2000;

  @IsOptional()
  @trimmed()
  @IsString()
  SESSION_SNAPSHOT_PATH?: string;

  /** Also write the snapshot this often (seconds; 0 = only on shutdown). */
  @duration()
  @IsInt()
  @Min(0)
  SESSION_SNAPSHOT_INTERVAL = 0;

  @boolean()
  @IsBoolean()
  COOKIE_SECURE = true;

  @list()
  @Matches(/^https?:\/\/[^/\s]+$/, {
    each: true,
    message: 'CORS_ORIGINS must be comma-separated origins such as https://app.example.com',
  })
  CORS_ORIGINS: string[] = [];

  /**
   * `false`, `true` (trust every hop) or comma-separated proxy addresses/CIDRs. No hop count: it
   * cannot tell a proxy from a client that sends enough X-Forwarded-For entries (Fastify 5.12
   * trusts nothing for one).
   */
  @trimmed()
  @IsString()
  @Matches(/^(true|false|(?!\d+$)[0-9a-fA-F.:/,\s]+)$/, {
    message:
      'TRUST_PROXY must be true, false or comma-separated proxy addresses/CIDRs (a hop count cannot tell a proxy from a client)',
  })
  TRUST_PROXY = 'false';

  /** Session location from the client IP; `off` opens no database and looks nothing up. */
  @boolean()
  @IsBoolean()
  GEOIP = true;

  /** An MMDB file to use instead of the embedded country database (checked when the app is built). */
  @IsOptional()
  @trimmed()
  @IsString()
  GEOIP_DB_PATH?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Alert thresholds for `GET /sessions/alerts`. */
  @integer()
  @IsInt()
  @Min(1)
  ALERT_MAX_SESSIONS = 5;

  @integer()
  @IsInt()
  @Min(1)
  ALERT_MAX_IPS = 3;

  /**
   * Rate limits of the auth routes: attempts per RATE_LIMIT_WINDOW, per client IP and per account
   * (the email for login and register; the session for refresh, counting only refreshes whose
   * secret matched; the user for a password change and an account deletion, which share their
   * counters). A successful login or password change clears its account's counter.
   */
  @duration()
  @IsInt()
  @Min(1)
  @Max(24 * 3600)
  RATE_LIMIT_WINDOW = 15 * 60;

  @rateLimit()
  RATE_LIMIT_LOGIN_PER_IP = 200;

  @rateLimit()
  RATE_LIMIT_LOGIN_PER_ACCOUNT = 10;

  @rateLimit()
  RATE_LIMIT_REGISTER_PER_IP = 20;

  @rateLimit()
  RATE_LIMIT_REGISTER_PER_ACCOUNT = 5;

  @rateLimit()
  RATE_LIMIT_REFRESH_PER_IP = 300;

  @rateLimit()
  RATE_LIMIT_REFRESH_PER_SESSION = 30;

  @rateLimit()
  RATE_LIMIT_PASSWORD_PER_IP = 30;

  @rateLimit()
  RATE_LIMIT_PASSWORD_PER_ACCOUNT = 10;

  /** Largest request body accepted, in bytes. */
  @integer()
  @IsInt()
  @Min(256)
  @Max(1_048_576)
  BODY_LIMIT = 8192;

  /** How long a graceful shutdown may take before the process exits anyway (seconds). */
  @duration()
  @IsInt()
  @Min(1)
  SHUTDOWN_TIMEOUT = 10;

  /** Readiness reports down above this heap size (MiB). */
  @integer()
  @IsInt()
  @Min(16)
  HEALTH_HEAP_LIMIT_MB = 4096;
}

export type Env = Omit<EnvironmentVariables, 'JWT_SECRET'> & {
  JWT_SECRET: string;
  /** True when no JWT_SECRET was given and a random one was drawn for this process. */
  JWT_SECRET_GENERATED: boolean;
};

export class InvalidConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidConfigError';
  }
}

/** Validates the raw environment; throws `InvalidConfigError` naming every bad variable. */
export function validateEnv(raw: Record<string, unknown>): Env {
  const known = Object.keys(new EnvironmentVariables());
  const picked: Record<string, unknown> = {};
  for (const key of [
    ...known,
    'JWT_SECRET',
    'JWT_AUDIENCE',
    'REDIS_URL',
    'SESSION_SNAPSHOT_PATH',
    'GEOIP_DB_PATH',
  ]) {
    if (!empty(raw[key])) picked[key] = raw[key];
  }
  const env = plainToInstance(EnvironmentVariables, picked, { exposeDefaultValues: true });
  const problems = validateSync(env, { forbidUnknownValues: false }).flatMap((error) =>
    Object.values(error.constraints ?? { invalid: `${error.property} is invalid` }).map(
      (message) => (message.startsWith(error.property) ? message : `${error.property}: ${message}`),
    ),
  );

  let secret = env.JWT_SECRET;
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    problems.push('JWT_SECRET must be at least 32 bytes');
  }
  if (secret === undefined && env.NODE_ENV === 'production') {
    problems.push('JWT_SECRET is required when NODE_ENV=production (32 bytes or more)');
  }
  if (env.NODE_ENV === 'production' && env.COOKIE_SECURE === false) {
    problems.push('COOKIE_SECURE=false is not allowed when NODE_ENV=production');
  }
  if (env.SESSION_STORE === 'redis' && !env.REDIS_URL) {
    problems.push('REDIS_URL is required when SESSION_STORE=redis');
  }
  if (
    Number.isInteger(env.SESSION_IDLE_TTL) &&
    Number.isInteger(env.SESSION_ABSOLUTE_TTL) &&
    env.SESSION_IDLE_TTL > env.SESSION_ABSOLUTE_TTL
  ) {
    problems.push('SESSION_IDLE_TTL must not exceed SESSION_ABSOLUTE_TTL');
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);

  const generated = secret === undefined;
  if (generated) secret = randomBytes(48).toString('base64url');
  return { ...env, JWT_SECRET: secret as string, JWT_SECRET_GENERATED: generated };
}
