import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { dataPaths, loosePermissions, sqliteFile } from '../options/data-files';
import type { ServiceConfig } from './env.schema';
import { JwtSecretOrigin } from '../options/jwt-secrets';

/** What the report says about the signing keys (never a key: its id is a hash of it). */
export interface SigningKeySummary {
  readonly origin: JwtSecretOrigin;
  /** The `kid` of the current key: equal on every instance that shares the key. */
  readonly keyId: string;
  readonly previousKeys: number;
  /** When previous keys stop verifying (ms since the epoch). */
  readonly previousAcceptedUntil: number;
}

/** A URL without its credentials or options: `postgres://db:5432/fpa`, `redis://cache:6379`. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/** Where users live and whether a restart keeps them. */
export function describeUsers(config: ServiceConfig): string {
  const file = sqliteFile(config.databaseUrl);
  if (file !== null) return `sqlite:${file}`;
  if (config.databaseUrl.startsWith('sqlite:')) return 'sqlite::memory: (lost on restart)';
  return withoutCredentials(config.databaseUrl);
}

/** Where sessions live and what a restart or a crash keeps of them. */
export function describeSessions(config: ServiceConfig): string {
  if (config.sessionStore === 'redis') {
    const nodes = (config.redisUrl ?? '')
      .split(',')
      .map((node) =>
        withoutCredentials(
          /^rediss?:\/\//.test(node.trim()) ? node.trim() : `redis://${node.trim()}`,
        ),
      )
      .join(', ');
    const replicas = config.redisWaitReplicas;
    const waits =
      replicas === 0
        ? ''
        : `; a login, refresh or revocation is answered once ${replicas} replica(s) have it`;
    return `redis ${nodes} (prefix ${config.redisKeyPrefix}): kept by Redis across restarts of this service${waits}`;
  }
  if (config.sessionStore === 'sql') {
    return `sql, the users' database (${describeUsers(config)}): every change committed as it happens, a restart or a crash keeps them`;
  }
  const path = config.sessionSnapshotPath;
  if (path === undefined) {
    return 'memory, no snapshot (SESSION_SNAPSHOT_PATH=off): a restart logs everyone out';
  }
  const interval = config.sessionSnapshotInterval;
  if (interval === 0) {
    return `memory, snapshot at ${path} on shutdown only: a restart keeps them, a crash loses every session since the last start`;
  }
  return `memory, snapshot every ${interval} s at ${path}: a restart keeps them, a crash loses at most ${interval} s`;
}

/** Whether other instances may share these sessions: Redis, or SQL on a database server. */
function sharedSessions(config: ServiceConfig): boolean {
  return (
    config.sessionStore === 'redis' ||
    (config.sessionStore === 'sql' && !config.databaseUrl.startsWith('sqlite:'))
  );
}

/** Where the signing key comes from and whether a restart keeps it. */
export function describeSigningKey(summary: SigningKeySummary): string {
  const { origin, previousKeys, previousAcceptedUntil } = summary;
  let text: string;
  switch (origin.source) {
    case 'jwtSecret':
      text = 'JWT_SECRET';
      break;
    case 'jwtSecretFile':
      text = `JWT_SECRET_FILE (${origin.path})`;
      break;
    case 'dataDir':
      text = `${origin.path} (${origin.generated ? 'generated now' : 'generated on an earlier start'}; kept across restarts)`;
      break;
    default: {
      const unknown: never = origin.source;
      throw new Error(`Unknown key source: ${String(unknown)}`);
    }
  }
  if (previousKeys > 0) {
    text += `; ${previousKeys} previous key(s) verify until ${new Date(previousAcceptedUntil).toISOString()}`;
  }
  return text;
}

/**
 * Logged once at start: where the service keeps its data and what a restart keeps (`data_locations`),
 * that a key was generated, and a warning for every data file or directory others may read
 * (with the `chmod` that fixes it). Never logs a key.
 */
export function logStartupReport(
  config: ServiceConfig,
  keys: SigningKeySummary,
  logger: Logger = new Logger('Storage'),
): void {
  const users = describeUsers(config);
  const sessions = describeSessions(config);
  const signingKey = describeSigningKey(keys);
  logger.log({
    event: 'data_locations',
    users,
    sessions,
    signingKey,
    signingKeyId: keys.keyId,
    message: `users in ${users}; sessions in ${sessions}; signing key from ${signingKey}`,
  });
  const { origin } = keys;
  if (origin.source === 'dataDir' && origin.generated) {
    logger.warn({
      event: 'jwt_secret_generated',
      path: origin.path,
      message: `neither JWT_SECRET nor JWT_SECRET_FILE is set: generated a signing key in ${origin.path} (mode 0600), used from now on. Instances that share users must share one key: set JWT_SECRET or JWT_SECRET_FILE for them`,
    });
  }
  if (origin.source === 'dataDir' && sharedSessions(config)) {
    logger.warn({
      event: 'jwt_secret_per_instance',
      path: origin.path,
      message: `SESSION_STORE=${config.sessionStore} with the key of ${origin.path}: each instance has its own DATA_DIR and key, so its tokens fail on the others. Set JWT_SECRET or JWT_SECRET_FILE to one key for all`,
    });
  }
  for (const { path, mode, fix } of loosePermissions(dataPaths(config))) {
    const octal = `0${mode.toString(8).padStart(3, '0')}`;
    logger.warn({
      event: 'data_permissions',
      path,
      mode: octal,
      fix,
      message: `${path} is open to group or others (mode ${octal}): it holds data only this service should read; fix with \`${fix}\``,
    });
  }
}

/**
 * Logs the start-up report once every module is up (SQLite has opened its -wal and -shm files,
 * the snapshot folder exists), whichever way the app was built.
 */
export class StartupReport implements OnApplicationBootstrap {
  constructor(
    private readonly config: ServiceConfig,
    private readonly keys: SigningKeySummary,
  ) {}

  onApplicationBootstrap(): void {
    logStartupReport(this.config, this.keys);
  }
}
