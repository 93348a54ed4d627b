import { applyDecorators } from '@nestjs/common';
import { plainToInstance, Transform } from 'class-transformer';
import {
  getMetadataStorage,
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
export const SESSION_STORES = ['memory', 'redis', 'sql'] as const;

export type NodeEnv = (typeof NODE_ENVS)[number];
export type SessionLimitPolicy = (typeof SESSION_LIMIT_POLICIES)[number];
export type SessionStoreKind = (typeof SESSION_STORES)[number];

const empty = (value: unknown): boolean => value === undefined || value === null || value === '';

/*
 * Every setting is read from an environment variable (a string) by the service and given as a
 * typed option (a number, boolean, array) by a host app: the transforms below take both, and
 * leave anything unusable as NaN or as it was, so the validators name the setting.
 */

/** `900`, `'900'`, `'15m'`, `'8h'` → seconds. */
export const duration = () =>
  Transform(({ value }) =>
    empty(value) ? undefined : typeof value === 'number' ? value : parseDuration(String(value)),
  );
export const integer = () =>
  Transform(({ value }) => {
    if (empty(value)) return undefined;
    if (typeof value === 'number') return value;
    return /^-?\d+$/.test(String(value)) ? Number(value) : NaN;
  });
export const boolean = () =>
  Transform(({ value }) => {
    if (empty(value) || typeof value === 'boolean') return empty(value) ? undefined : value;
    const text = String(value).toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    return value;
  });
export const trimmed = () =>
  Transform(({ value }) =>
    empty(value) ? undefined : typeof value === 'string' ? value.trim() : value,
  );
/** A comma-separated string or an array of strings. */
export const list = () =>
  Transform(({ value }) => {
    if (empty(value)) return [];
    const items: unknown[] = Array.isArray(value) ? value : String(value).split(',');
    return items
      .map((item) => (typeof item === 'string' ? item.trim() : item))
      .filter((item) => item !== '');
  });

/** An attempt count per window: a whole number from 1 to 1,000,000. */
const rateLimit = () => applyDecorators(integer(), IsInt(), Min(1), Max(1_000_000));

/**
 * The settings of Fingerprint Auth, with their defaults: what `FingerprintAuthModule.forRoot()`
 * takes as options (these names) and what the service reads from its environment (the same names
 * in upper snake case: `accessTokenTtl` is `ACCESS_TOKEN_TTL`). One schema for both, so both are
 * validated by the same rules with the same messages. Custom messages say `$property`, which
 * becomes the name the caller used.
 */
export class FingerprintAuthSettings {
  @IsIn(NODE_ENVS)
  nodeEnv: NodeEnv = 'development';

  /** Where the embedded defaults keep their files: the SQLite users, the generated key, the snapshot. */
  @trimmed()
  @IsString()
  @MinLength(1)
  dataDir = './data';

  @IsOptional()
  @IsString()
  jwtSecret?: string;

  /** A file holding the key (a mounted Kubernetes or Docker secret); read when the app is built. */
  @IsOptional()
  @trimmed()
  @IsString()
  jwtSecretFile?: string;

  /** Keys of earlier deployments: accepted for verification, for accessTokenTtl after start. */
  @list()
  @IsString({ each: true })
  jwtPreviousSecrets: string[] = [];

  @trimmed()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  jwtIssuer = 'fingerprint-auth';

  @IsOptional()
  @trimmed()
  @IsString()
  @MaxLength(256)
  jwtAudience?: string;

  @duration()
  @IsInt()
  @Min(10)
  @Max(24 * 3600)
  accessTokenTtl = 15 * 60;

  @duration()
  @IsInt()
  @Min(10)
  sessionIdleTtl = 30 * 60;

  @duration()
  @IsInt()
  @Min(10)
  sessionAbsoluteTtl = 8 * 3600;

  /** Last-activity writes happen at most this often per session (seconds). */
  @duration()
  @IsInt()
  @Min(0)
  sessionActivityInterval = 60;

  /** A refresh credential that was just rotated is still honoured this long (two tabs refreshing at once). */
  @duration()
  @IsInt()
  @Min(0)
  @Max(300)
  refreshGracePeriod = 10;

  @integer()
  @IsInt()
  @Min(1)
  @Max(1000)
  maxSessionsPerUser = 5;

  @IsIn(SESSION_LIMIT_POLICIES)
  sessionLimitPolicy: SessionLimitPolicy = 'evict-oldest';

  @integer()
  @IsInt()
  @Min(1)
  sessionCapacity = 1_000_000;

  @IsIn(SESSION_STORES)
  sessionStore: SessionStoreKind = 'memory';

  @IsOptional()
  @trimmed()
  @IsString()
  @Matches(/^rediss?:\/\/[^,\s]+(,\s*(rediss?:\/\/)?[^,\s]+)*$/, {
    message: '$property must be redis://host:port (comma-separated nodes for Redis Cluster)',
  })
  redisUrl?: string;

  @trimmed()
  @IsString()
  @MaxLength(64)
  redisKeyPrefix = 'fpa:';

  /**
   * Replicas that must hold a login, refresh or revocation before it is answered (Redis `WAIT`
   * after the write, on the master that took it); fewer within redisWaitTimeoutMs answers 503.
   * 0: answered as soon as the master has it (a master lost before its replica caught up takes
   * the last writes with it).
   */
  @integer()
  @IsInt()
  @Min(0)
  @Max(16)
  redisWaitReplicas = 0;

  /**
   * Longest a write waits for redisWaitReplicas (ms). Below the 500 ms the client gives any
   * Redis command, which the wait is part of.
   */
  @integer()
  @IsInt()
  @Min(1)
  @Max(400)
  redisWaitTimeoutMs = 100;

  /** Unset: `sqlite:<dataDir>/fingerprint-auth.db`. */
  @IsOptional()
  @trimmed()
  @IsString()
  @Matches(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, {
    message: '$property must be sqlite:<path> (or sqlite::memory:) or postgres://user@host:port/db',
  })
  databaseUrl?: string;

  @trimmed()
  @IsString()
  @Matches(/^(\S+\s+){4,5}\S+$/, {
    message: '$property must be a cron expression with 5 or 6 fields',
  })
  cleanupCron = '0 * * * * *';

  /** Sessions examined per cleanup batch before yielding to the event loop. */
  @integer()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  cleanupBatchSize = 2000;

  /** Unset: `<dataDir>/sessions.snapshot`; `off`: no snapshot. */
  @IsOptional()
  @trimmed()
  @IsString()
  sessionSnapshotPath?: string | undefined;

  /** Also write the snapshot this often (seconds; 0 = only on shutdown): a crash loses at most this. */
  @duration()
  @IsInt()
  @Min(0)
  sessionSnapshotInterval = 60;

  @boolean()
  @IsBoolean()
  cookieSecure = true;

  /**
   * The path the browser sends the refresh cookie to. Unset: where the refresh route is mounted
   * (the app's global prefix, then `routePrefix`, then `/auth/refresh`). Set it when a proxy in
   * front serves the route under another path.
   */
  @IsOptional()
  @trimmed()
  @IsString()
  @Matches(/^\/[\x21-\x2b\x2d-\x3a\x3c-\x7e]*$/, {
    message: '$property must be a URL path starting with / (no spaces, commas or semicolons)',
  })
  @MaxLength(256)
  refreshCookiePath?: string;

  /** Session location from the client IP; `false` opens no database and looks nothing up. */
  @boolean()
  @IsBoolean()
  geoip = true;

  /** An MMDB file to use instead of the embedded country database (checked when the app is built). */
  @IsOptional()
  @trimmed()
  @IsString()
  geoipDbPath?: string;

  /**
   * The audit trail: each account's security events kept in the database (`databaseUrl`) and
   * shown to its user (`GET /account/events`); `false` keeps them in the log only.
   */
  @boolean()
  @IsBoolean()
  auditTrail = true;

  /** How long audit events are kept (seconds, or `90d`); older ones are deleted by the cleanup job. */
  @duration()
  @IsInt()
  @Min(3600)
  auditRetention = 90 * 86400;

  /** Audit events waiting to be written, at most; beyond it the oldest are dropped (and counted). */
  @integer()
  @IsInt()
  @Min(100)
  @Max(1_000_000)
  auditQueueSize = 10_000;

  /** Alert thresholds for `GET /sessions/alerts`. */
  @integer()
  @IsInt()
  @Min(1)
  alertMaxSessions = 5;

  @integer()
  @IsInt()
  @Min(1)
  alertMaxIps = 3;

  /**
   * Rate limits of the auth routes: attempts per rateLimitWindow, per client IP and per account
   * (the email for login and register; the session for refresh, counting only refreshes whose
   * secret matched; the user for a password change and an account deletion, which share their
   * counters). A successful login or password change clears its account's counter.
   */
  @duration()
  @IsInt()
  @Min(1)
  @Max(24 * 3600)
  rateLimitWindow = 15 * 60;

  @rateLimit()
  rateLimitLoginPerIp = 200;

  @rateLimit()
  rateLimitLoginPerAccount = 10;

  @rateLimit()
  rateLimitRegisterPerIp = 20;

  @rateLimit()
  rateLimitRegisterPerAccount = 5;

  @rateLimit()
  rateLimitRefreshPerIp = 300;

  @rateLimit()
  rateLimitRefreshPerSession = 30;

  @rateLimit()
  rateLimitPasswordPerIp = 30;

  @rateLimit()
  rateLimitPasswordPerAccount = 10;
}

/** How a problem names a setting: as an option (`accessTokenTtl`) or a variable (`ACCESS_TOKEN_TTL`). */
export type SettingNaming = 'option' | 'env';

/** The environment variable of a setting: `accessTokenTtl` → `ACCESS_TOKEN_TTL`. */
export const envName = (setting: string): string =>
  setting.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Every setting `cls` declares (class-validator keeps the decorated properties, parents' too). */
export function settingNames(cls: new () => object): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
  return [...new Set(metadata.map((entry) => entry.propertyName))];
}

/** Settings that cannot be used: every problem, each naming its setting. */
export class InvalidConfigError extends Error {
  constructor(
    readonly problems: string[],
    what = 'configuration',
  ) {
    super(`Invalid ${what}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidConfigError';
  }
}

/** Names a setting the way the caller wrote it. */
export type SettingNamer = (setting: string) => string;

export const namer =
  (naming: SettingNaming): SettingNamer =>
  (setting) =>
    naming === 'env' ? envName(setting) : setting;

/**
 * Validates `input` (settings by their camelCase names) against `cls` and returns the instance,
 * with defaults filled in, and every problem found, each naming its setting as `naming` says.
 * Unknown keys are not looked at (the caller decides what else the input may hold).
 */
export function validateSettings<T extends object>(
  cls: new () => T,
  input: Record<string, unknown>,
  naming: SettingNaming,
): { settings: T; problems: string[] } {
  const known = settingNames(cls);
  const picked: Record<string, unknown> = {};
  for (const name of known) if (!empty(input[name])) picked[name] = input[name];
  const settings = plainToInstance(cls, picked, { exposeDefaultValues: true });
  const name = namer(naming);
  const problems = validateSync(settings, { forbidUnknownValues: false }).flatMap((error) =>
    Object.values(error.constraints ?? { invalid: `${error.property} is invalid` }).map(
      (message) => {
        const named = renameSettings(message, known, name);
        const property = name(error.property);
        return named.startsWith(property) ? named : `${property}: ${named}`;
      },
    ),
  );
  return { settings, problems };
}

/** `message` with every setting name in it written as `name` gives it. */
export function renameSettings(message: string, settings: string[], name: SettingNamer): string {
  return settings.reduce(
    (text, setting) => text.replace(new RegExp(`\\b${setting}\\b`, 'g'), name(setting)),
    message,
  );
}
