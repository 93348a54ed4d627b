import {
  FingerprintAuthSettings,
  InvalidConfigError,
  SettingNamer,
  SettingNaming,
  namer,
  validateSettings,
} from './settings';

/** HS256 keys shorter than this are refused (RFC 7518 asks for at least the hash size). */
export const MIN_SECRET_BYTES = 32;
/** Keys with fewer distinct byte values are placeholders or patterns (`gggg…`, `abcabc…`), not random. */
export const MIN_SECRET_DISTINCT_BYTES = 16;
/**
 * A key written in hex digits only has 16 possible values per character, so it is judged by
 * those: 64 digits (256 bits, what RFC 7518 asks of an HS256 key) of which at least 12 distinct.
 * `openssl rand -hex 32` misses that about twice in ten million draws; 16 distinct digits would
 * refuse a quarter of them.
 */
export const MIN_HEX_SECRET_DIGITS = 64;
export const MIN_HEX_SECRET_DISTINCT_DIGITS = 12;

const HEX_ONLY = /^[0-9a-fA-F]+$/;

/** Why `secret` is too weak to sign tokens, or undefined when it will do. Never quotes the key. */
export function weakSecretProblem(secret: Buffer): string | undefined {
  if (secret.length < MIN_SECRET_BYTES) return `must be at least ${MIN_SECRET_BYTES} bytes`;
  if (HEX_ONLY.test(secret.toString('latin1'))) {
    const digits = new Set(secret.toString('latin1').toLowerCase()).size;
    if (secret.length < MIN_HEX_SECRET_DIGITS) {
      return `must be at least ${MIN_HEX_SECRET_DIGITS} hex digits (256 bits) when written in hex (use e.g. \`openssl rand -hex 32\`)`;
    }
    if (digits < MIN_HEX_SECRET_DISTINCT_DIGITS) {
      return `must use at least ${MIN_HEX_SECRET_DISTINCT_DIGITS} distinct hex digits (it looks like a placeholder or a pattern; use e.g. \`openssl rand -hex 32\`)`;
    }
    return undefined;
  }
  if (new Set(secret).size < MIN_SECRET_DISTINCT_BYTES) {
    return `must have at least ${MIN_SECRET_DISTINCT_BYTES} distinct byte values (it looks like a placeholder or a pattern; use e.g. \`openssl rand -base64 48\`)`;
  }
  return undefined;
}

/** Joins dataDir and a file name the way an operator writes it (`./data/x`, not `data/x`). */
export function inDataDir(dataDir: string, name: string): string {
  return `${dataDir.replace(/\/+$/, '')}/${name}`;
}

/**
 * The settings a module instance runs on: validated, every default applied, the ones derived from
 * `dataDir` filled in. The library's providers inject it (it is its own DI token).
 */
export class FingerprintAuthConfig extends FingerprintAuthSettings {
  /** `databaseUrl`, or `sqlite:<dataDir>/fingerprint-auth.db`. */
  declare databaseUrl: string;
  /** The in-memory store's snapshot file; undefined when snapshots are off. */
  declare sessionSnapshotPath: string | undefined;
  /** Whether `sessionSnapshotPath` was given rather than derived from `dataDir`. */
  sessionSnapshotPathSet = false;
  /** Where the routes mount (`'/api'`, or `''`): the module definition's `routePrefix`. */
  routePrefix = '';
}

/** The rules between settings, written once for options and variables alike. */
export function settingsProblems(settings: FingerprintAuthSettings, name: SettingNamer): string[] {
  const problems: string[] = [];
  if (typeof settings.jwtSecret === 'string') {
    const weak = weakSecretProblem(Buffer.from(settings.jwtSecret, 'utf8'));
    if (weak) problems.push(`${name('jwtSecret')} ${weak}`);
  }
  if (settings.jwtSecret !== undefined && settings.jwtSecretFile !== undefined) {
    problems.push(
      `${name('jwtSecret')} and ${name('jwtSecretFile')} are both set: set only one (which key is meant?)`,
    );
  }
  if (Array.isArray(settings.jwtPreviousSecrets)) {
    settings.jwtPreviousSecrets.forEach((secret, index) => {
      const weak = weakSecretProblem(Buffer.from(String(secret), 'utf8'));
      if (weak) problems.push(`${name('jwtPreviousSecrets')} (entry ${index + 1}) ${weak}`);
    });
  }
  const production = `${name('nodeEnv')}=production`;
  if (
    settings.jwtSecret === undefined &&
    settings.jwtSecretFile === undefined &&
    settings.nodeEnv === 'production'
  ) {
    problems.push(
      `${name('jwtSecret')} or ${name('jwtSecretFile')} is required when ${production} (${MIN_SECRET_BYTES} bytes or more)`,
    );
  }
  if (settings.nodeEnv === 'production' && settings.cookieSecure === false) {
    problems.push(`${name('cookieSecure')}=false is not allowed when ${production}`);
  }
  if (settings.sessionStore === 'redis' && !settings.redisUrl) {
    problems.push(`${name('redisUrl')} is required when ${name('sessionStore')}=redis`);
  }
  if (
    Number.isInteger(settings.sessionIdleTtl) &&
    Number.isInteger(settings.sessionAbsoluteTtl) &&
    settings.sessionIdleTtl > settings.sessionAbsoluteTtl
  ) {
    problems.push(`${name('sessionIdleTtl')} must not exceed ${name('sessionAbsoluteTtl')}`);
  }
  return problems;
}

/** Fills in what a valid config derives from `dataDir` and the snapshot switch. */
export function applyDerivedSettings<T extends FingerprintAuthConfig>(config: T): T {
  const snapshotPath = config.sessionSnapshotPath;
  config.databaseUrl ??= `sqlite:${inDataDir(config.dataDir, 'fingerprint-auth.db')}`;
  config.sessionSnapshotPathSet = snapshotPath !== undefined;
  config.sessionSnapshotPath =
    snapshotPath === undefined
      ? inDataDir(config.dataDir, 'sessions.snapshot')
      : /^off$/i.test(snapshotPath)
        ? undefined
        : snapshotPath;
  return config;
}

/**
 * Validates settings given by their camelCase names (module options) and resolves them; throws
 * `InvalidConfigError` naming every problem, with names as `naming` says. Reads no file.
 */
export function resolveConfig<T extends FingerprintAuthConfig>(
  cls: new () => T,
  input: Record<string, unknown>,
  naming: SettingNaming,
  moreProblems: (config: T, name: SettingNamer) => string[] = () => [],
): T {
  const { settings, problems } = validateSettings(cls, input, naming);
  const name = namer(naming);
  problems.push(...settingsProblems(settings, name), ...moreProblems(settings, name));
  if (problems.length > 0) {
    throw new InvalidConfigError(
      problems,
      naming === 'env' ? 'configuration' : 'FingerprintAuthModule options',
    );
  }
  return applyDerivedSettings(settings);
}
