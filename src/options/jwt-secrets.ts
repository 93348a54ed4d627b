import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDirectory, JWT_SECRET_FILE_NAME } from './data-files';
import { FingerprintAuthConfig, inDataDir, weakSecretProblem } from './fingerprint-auth-config';
import { InvalidConfigError, namer, SettingNaming } from './settings';

/** Where the signing key came from: the setting, the mounted file, or dataDir's generated file. */
export type JwtSecretSource = 'jwtSecret' | 'jwtSecretFile' | 'dataDir';

export interface JwtSecretOrigin {
  readonly source: JwtSecretSource;
  /** The file read (jwtSecretFile's, or `<dataDir>/jwt-secret`). */
  readonly path?: string;
  /** True when this start created `<dataDir>/jwt-secret`. */
  readonly generated?: boolean;
}

/** The HS256 keys of this process, resolved once at start by `resolveJwtSecrets`. */
export class JwtSecrets {
  constructor(
    /** Signs every new token, and verifies. */
    readonly current: Buffer,
    /** jwtPreviousSecrets: verify only (see `SigningKeys` for how long). */
    readonly previous: readonly Buffer[],
    readonly origin: JwtSecretOrigin,
  ) {}
}

/** Bytes of a generated key: 48 random bytes, written as 64 base64url characters. */
const GENERATED_KEY_BYTES = 48;

/**
 * The signing keys of a config: jwtSecret, else the file jwtSecretFile names, else (outside
 * production) `<dataDir>/jwt-secret`, generated on the first start, so tokens outlive a restart on
 * the quick-start defaults. Reads and may write files; a file that cannot be read, is empty or
 * holds a weak key is an `InvalidConfigError` naming the setting as `naming` says.
 */
export function resolveJwtSecrets(
  config: FingerprintAuthConfig,
  naming: SettingNaming = 'option',
): JwtSecrets {
  const name = namer(naming);
  const previous = config.jwtPreviousSecrets.map((secret) => Buffer.from(secret, 'utf8'));
  if (config.jwtSecret !== undefined) {
    return new JwtSecrets(Buffer.from(config.jwtSecret, 'utf8'), previous, {
      source: 'jwtSecret',
    });
  }
  if (config.jwtSecretFile !== undefined) {
    const path = config.jwtSecretFile;
    return new JwtSecrets(readKeyFile(path, name('jwtSecretFile'), name), previous, {
      source: 'jwtSecretFile',
      path,
    });
  }
  if (config.nodeEnv === 'production') {
    // Validation refuses this already; a key must never be generated in production.
    throw new InvalidConfigError([
      `${name('jwtSecret')} or ${name('jwtSecretFile')} is required in production`,
    ]);
  }
  const path = inDataDir(config.dataDir, JWT_SECRET_FILE_NAME);
  const generated = createKeyFile(path, name);
  return new JwtSecrets(readKeyFile(path, name('dataDir'), name, !generated), previous, {
    source: 'dataDir',
    path,
    generated,
  });
}

/**
 * Creates `path` with a new random key unless it exists; true when this call wrote it. The file is
 * opened exclusively (mode 0600), so of two first starts at once only one writes a key and the
 * other reads it.
 */
function createKeyFile(path: string, name: (setting: string) => string): boolean {
  const cannotCreate = (error: unknown) =>
    new InvalidConfigError([
      `${name('dataDir')}: cannot create ${path} for the generated JWT key (${(error as NodeJS.ErrnoException).code ?? String(error)}); make ${name('dataDir')} a writable directory or set ${name('jwtSecret')} / ${name('jwtSecretFile')}`,
    ]);
  try {
    ensurePrivateDirectory(dirname(path));
  } catch (error) {
    throw cannotCreate(error);
  }
  let handle: number;
  try {
    handle = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw cannotCreate(error);
  }
  try {
    writeSync(handle, randomBytes(GENERATED_KEY_BYTES).toString('base64url'));
    fsyncSync(handle);
  } catch (error) {
    closeSync(handle);
    // An empty key file would stop every later start: leave none.
    rmSync(path, { force: true });
    throw new InvalidConfigError([
      `${name('dataDir')}: cannot write the generated JWT key to ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    ]);
  }
  closeSync(handle);
  return true;
}

/** How long a start waits for a concurrent first start to finish writing the key it created. */
const KEY_WRITE_WAIT = { attempts: 40, intervalMs: 25 };

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * The key in `path` (one trailing newline removed, as `echo` and editors leave one), checked like
 * jwtSecret; problems name `variable`. `waitForWriter`: an empty file may be a concurrent first
 * start between creating and writing it, so wait a little before calling it empty.
 */
function readKeyFile(
  path: string,
  variable: string,
  name: (setting: string) => string,
  waitForWriter = false,
): Buffer {
  const fix =
    variable === name('dataDir')
      ? `; delete it to generate a new key (every token issued with the old one is then refused) or set ${name('jwtSecret')} / ${name('jwtSecretFile')}`
      : '';
  let key: Buffer;
  for (let attempt = 1; ; attempt++) {
    let content: Buffer;
    try {
      content = readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new InvalidConfigError([`${variable}: cannot read ${path} (${code})`]);
    }
    key = stripTrailingNewline(content);
    if (key.length > 0 || !waitForWriter || attempt >= KEY_WRITE_WAIT.attempts) break;
    sleepSync(KEY_WRITE_WAIT.intervalMs);
  }
  if (key.length === 0) throw new InvalidConfigError([`${variable}: ${path} is empty${fix}`]);
  const weak = weakSecretProblem(key);
  if (weak) throw new InvalidConfigError([`${variable}: the key in ${path} ${weak}${fix}`]);
  return key;
}

function stripTrailingNewline(content: Buffer): Buffer {
  let end = content.length;
  if (end > 0 && content[end - 1] === 0x0a) end--;
  if (end > 0 && end < content.length && content[end - 1] === 0x0d) end--;
  return content.subarray(0, end);
}
