import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateEnv } from '../config/env.schema';
import { InvalidConfigError } from './settings';
import { resolveJwtSecrets } from './jwt-secrets';

const mode = (path: string) => statSync(path).mode & 0o777;

function problemOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidConfigError) return error.problems.join('\n');
    throw error;
  }
  throw new Error('expected an InvalidConfigError');
}

describe('resolveJwtSecrets', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-secrets-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const resolve = (raw: Record<string, string>) =>
    resolveJwtSecrets(validateEnv({ DATA_DIR: join(dir, 'data'), ...raw }), 'env');

  it('uses JWT_SECRET as it is and writes nothing', () => {
    const secret = randomBytes(48).toString('base64url');
    const secrets = resolve({ JWT_SECRET: secret });
    expect(secrets.current.toString()).toBe(secret);
    expect(secrets.origin).toEqual({ source: 'jwtSecret' });
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('generates <DATA_DIR>/jwt-secret once (0600 in a 0700 directory) and reads it on every later start', () => {
    const first = resolve({});
    const path = join(dir, 'data', 'jwt-secret');
    expect(first.origin).toEqual({ source: 'dataDir', path, generated: true });
    expect(first.current.toString()).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(readFileSync(path)).toEqual(first.current);
    expect(mode(path)).toBe(0o600);
    expect(mode(join(dir, 'data'))).toBe(0o700);

    const second = resolve({});
    expect(second.origin).toEqual({ source: 'dataDir', path, generated: false });
    expect(second.current).toEqual(first.current);
  });

  it('creates missing parents of DATA_DIR 0700 too', () => {
    const secrets = resolveJwtSecrets(validateEnv({ DATA_DIR: join(dir, 'a', 'b') }), 'env');
    expect(secrets.origin.generated).toBe(true);
    expect(mode(join(dir, 'a'))).toBe(0o700);
    expect(mode(join(dir, 'a', 'b'))).toBe(0o700);
  });

  it('reads a key file left by another first start, waiting while it is still being written', async () => {
    mkdirSync(join(dir, 'data'), { mode: 0o700 });
    const path = join(dir, 'data', 'jwt-secret');
    // The winner has created the file (exclusively) but not written the key yet.
    writeFileSync(path, '', { mode: 0o600 });
    const key = randomBytes(48).toString('base64url');
    const writer = spawn('sh', ['-c', `sleep 0.3; printf %s "$KEY" > "$FILE"`], {
      env: { ...process.env, KEY: key, FILE: path },
    });
    const written = new Promise((done) => writer.once('exit', done));
    // Started at once, blocked in its bounded wait until the other process has written.
    await new Promise((started) => writer.once('spawn', started));
    const secrets = resolve({});
    await written;
    expect(secrets.origin).toEqual({ source: 'dataDir', path, generated: false });
    expect(secrets.current.toString()).toBe(key);
  });

  it('refuses a generated key file that is empty or weak, naming DATA_DIR and the fix', () => {
    mkdirSync(join(dir, 'data'));
    const path = join(dir, 'data', 'jwt-secret');
    writeFileSync(path, 'a'.repeat(64));
    expect(problemOf(() => resolve({}))).toMatch(
      /^DATA_DIR: the key in .*jwt-secret .*distinct.*delete it/,
    );
    writeFileSync(path, '\n');
    expect(problemOf(() => resolve({}))).toMatch(/^DATA_DIR: .*jwt-secret is empty/);
  });

  it('refuses a DATA_DIR it cannot write, naming it', () => {
    writeFileSync(join(dir, 'data'), 'a file, not a directory');
    expect(problemOf(() => resolve({}))).toMatch(/^DATA_DIR: cannot create .*jwt-secret/);
  });

  describe('JWT_SECRET_FILE', () => {
    const key = randomBytes(48).toString('base64url');

    it('reads the key, removing one trailing newline', () => {
      const path = join(dir, 'jwt');
      for (const [content, expected] of [
        [key, key],
        [`${key}\n`, key],
        [`${key}\r\n`, key],
        [`${key}\n\n`, `${key}\n`],
        [` ${key} `, ` ${key} `],
      ]) {
        writeFileSync(path, content);
        const secrets = resolve({ JWT_SECRET_FILE: path });
        expect(secrets.current.toString()).toBe(expected);
        expect(secrets.origin).toEqual({ source: 'jwtSecretFile', path });
      }
      expect(existsSync(join(dir, 'data'))).toBe(false);
    });

    it('takes binary keys byte for byte', () => {
      const path = join(dir, 'jwt.bin');
      const bytes = randomBytes(64);
      writeFileSync(path, bytes);
      expect(resolve({ JWT_SECRET_FILE: path }).current).toEqual(
        bytes[63] === 0x0a ? bytes.subarray(0, 63) : bytes,
      );
    });

    it('refuses a file that is missing, a directory, empty or weak, naming JWT_SECRET_FILE and never the key', () => {
      const path = join(dir, 'jwt');
      expect(problemOf(() => resolve({ JWT_SECRET_FILE: path }))).toMatch(
        /^JWT_SECRET_FILE: cannot read .*jwt \(ENOENT\)$/,
      );
      expect(problemOf(() => resolve({ JWT_SECRET_FILE: dir }))).toMatch(
        /^JWT_SECRET_FILE: cannot read .* \(EISDIR\)$/,
      );
      for (const empty of ['', '\n']) {
        writeFileSync(path, empty);
        expect(problemOf(() => resolve({ JWT_SECRET_FILE: path }))).toMatch(
          /^JWT_SECRET_FILE: .*jwt is empty$/,
        );
      }
      for (const weak of ['b'.repeat(48), 'short-but-varied-0123']) {
        writeFileSync(path, `${weak}\n`);
        const problem = problemOf(() => resolve({ JWT_SECRET_FILE: path }));
        expect(problem).toMatch(/^JWT_SECRET_FILE: the key in .*jwt must/);
        expect(problem).not.toContain(weak);
      }
    });

    it('is read in production, where nothing is ever generated', () => {
      const path = join(dir, 'jwt');
      writeFileSync(path, key);
      expect(resolve({ NODE_ENV: 'production', JWT_SECRET_FILE: path }).current.toString()).toBe(
        key,
      );
      expect(existsSync(join(dir, 'data'))).toBe(false);
    });
  });

  it('passes the previous keys on, as given', () => {
    const [a, b] = [randomBytes(48).toString('base64url'), randomBytes(48).toString('base64url')];
    const secrets = resolve({
      JWT_SECRET: randomBytes(48).toString('hex'),
      JWT_PREVIOUS_SECRETS: `${a},${b}`,
    });
    expect(secrets.previous.map((secret) => secret.toString())).toEqual([a, b]);
  });
});
