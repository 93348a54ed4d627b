import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { DynamicModule, Module } from '@nestjs/common';
import { ensurePrivateDirectory, JWT_SECRET_FILE_NAME } from './data-files';
import { Env, inDataDir, InvalidConfigError, weakSecretProblem } from './env.schema';

/** Where the signing key came from: the variable, the mounted file, or DATA_DIR's generated file. */
export type JwtSecretSource = 'JWT_SECRET' | 'JWT_SECRET_FILE' | 'DATA_DIR';

export interface JwtSecretOrigin {
  readonly source: JwtSecretSource;
  /** The file read (JWT_SECRET_FILE's, or `<DATA_DIR>/jwt-secret`). */
  readonly path?: string;
  /** True when this start created `<DATA_DIR>/jwt-secret`. */
  readonly generated?: boolean;
}

/** The HS256 keys of this process, resolved once at start by `resolveJwtSecrets`. */
export class JwtSecrets {
  constructor(
    /** Signs every new token, and verifies. */
    readonly current: Buffer,
    /** JWT_PREVIOUS_SECRETS: verify only (see `SigningKeys` for how long). */
    readonly previous: readonly Buffer[],
    readonly origin: JwtSecretOrigin,
  ) {}
}

/** Bytes of a generated key: 48 random bytes, written as 64 base64url characters. */
const GENERATED_KEY_BYTES = 48;

/**
 * The signing keys for a validated environment: JWT_SECRET, else the file JWT_SECRET_FILE names,
 * else (outside production) `<DATA_DIR>/jwt-secret`, generated on the first start, so tokens
 * outlive a restart on the quick-start defaults. Reads and may write files; a file that cannot be
 * read, is empty or holds a weak key is an `InvalidConfigError` naming the variable.
 */
export function resolveJwtSecrets(env: Env): JwtSecrets {
  const previous = env.JWT_PREVIOUS_SECRETS.map((secret) => Buffer.from(secret, 'utf8'));
  if (env.JWT_SECRET !== undefined) {
    return new JwtSecrets(Buffer.from(env.JWT_SECRET, 'utf8'), previous, { source: 'JWT_SECRET' });
  }
  if (env.JWT_SECRET_FILE !== undefined) {
    const path = env.JWT_SECRET_FILE;
    return new JwtSecrets(readKeyFile(path, 'JWT_SECRET_FILE'), previous, {
      source: 'JWT_SECRET_FILE',
      path,
    });
  }
  if (env.NODE_ENV === 'production') {
    // validateEnv refuses this already; a key must never be generated in production.
    throw new InvalidConfigError(['JWT_SECRET or JWT_SECRET_FILE is required in production']);
  }
  const path = inDataDir(env.DATA_DIR, JWT_SECRET_FILE_NAME);
  const generated = createKeyFile(path);
  return new JwtSecrets(readKeyFile(path, 'DATA_DIR', !generated), previous, {
    source: 'DATA_DIR',
    path,
    generated,
  });
}

/**
 * Creates `path` with a new random key unless it exists; true when this call wrote it. The file is
 * opened exclusively (mode 0600), so of two first starts at once only one writes a key and the
 * other reads it.
 */
function createKeyFile(path: string): boolean {
  const cannotCreate = (error: unknown) =>
    new InvalidConfigError([
      `DATA_DIR: cannot create ${path} for the generated JWT key (${(error as NodeJS.ErrnoException).code ?? String(error)}); make DATA_DIR a writable directory or set JWT_SECRET / JWT_SECRET_FILE`,
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
      `DATA_DIR: cannot write the generated JWT key to ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
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
 * JWT_SECRET; problems name `variable`. `waitForWriter`: an empty file may be a concurrent first
 * start between creating and writing it, so wait a little before calling it empty.
 */
function readKeyFile(path: string, variable: string, waitForWriter = false): Buffer {
  const fix =
    variable === 'DATA_DIR'
      ? '; delete it to generate a new key (every token issued with the old one is then refused) or set JWT_SECRET / JWT_SECRET_FILE'
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

/**
 * Provides `JwtSecrets` to the whole app. The keys are resolved here, while the app module is
 * assembled, rather than in a `useFactory` provider: an error thrown inside Nest's injector is
 * logged by Nest with its stack trace, whereas this one reaches `main.ts` as a plain
 * `InvalidConfigError` (as GeoIpModule does).
 */
@Module({})
export class JwtSecretsModule {
  static forRoot(env: Env, secrets: JwtSecrets = resolveJwtSecrets(env)): DynamicModule {
    return {
      module: JwtSecretsModule,
      global: true,
      providers: [{ provide: JwtSecrets, useValue: secrets }],
      exports: [JwtSecrets],
    };
  }
}
