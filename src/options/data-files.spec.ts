import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPrivateFile,
  dataPaths,
  ensurePrivateDirectory,
  loosePermissions,
  sqliteFile,
} from './data-files';
import { validateEnv } from '../config/env.schema';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('data files', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-data-files-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates directories 0700 and files 0600, leaving existing ones as they are', () => {
    ensurePrivateDirectory(join(dir, 'a', 'b'));
    expect([mode(join(dir, 'a')), mode(join(dir, 'a', 'b'))]).toEqual([0o700, 0o700]);
    const file = join(dir, 'a', 'b', 'users.db');
    expect(createPrivateFile(file)).toBe(true);
    expect(mode(file)).toBe(0o600);
    chmodSync(file, 0o640);
    expect(createPrivateFile(file)).toBe(false);
    expect(mode(file)).toBe(0o640);
  });

  it('names the SQLite file of DATABASE_URL', () => {
    expect(sqliteFile('sqlite:./data/x.db')).toBe('./data/x.db');
    expect(sqliteFile('sqlite::memory:')).toBeNull();
    expect(sqliteFile('postgres://db/fpa')).toBeNull();
  });

  it('lists DATA_DIR, its key, the SQLite file wherever it is, and the snapshot', () => {
    const env = validateEnv({
      DATA_DIR: '/srv/fpa',
      DATABASE_URL: 'sqlite:/elsewhere/users.db',
      SESSION_SNAPSHOT_PATH: '/snap/sessions',
    });
    expect(dataPaths(env).map((entry) => entry.path)).toEqual([
      '/srv/fpa',
      '/srv/fpa/jwt-secret',
      '/elsewhere/users.db',
      '/snap/sessions',
    ]);
    const quickStart = dataPaths(
      validateEnv({ DATABASE_URL: 'postgres://db/fpa', SESSION_SNAPSHOT_PATH: 'off' }),
    );
    expect(quickStart.map((entry) => entry.path)).toEqual(['./data', './data/jwt-secret']);
  });

  it('finds what group or others may read, write or enter, with the chmod that fixes it', () => {
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    const db = join(data, 'users.db');
    writeFileSync(db, '');
    chmodSync(db, 0o644);
    writeFileSync(`${db}-wal`, '');
    const key = join(data, 'jwt-secret');
    writeFileSync(key, 'k', { mode: 0o600 });
    chmodSync(key, 0o600);
    const odd = join(dir, "it's here");
    writeFileSync(odd, '');
    chmodSync(odd, 0o602);

    const loose = loosePermissions([
      { path: data, kind: 'directory' },
      { path: db, kind: 'file', companions: [`${db}-wal`, `${db}-shm`] },
      { path: key, kind: 'file' },
      { path: odd, kind: 'file' },
      { path: join(dir, 'missing'), kind: 'file' },
    ]);
    expect(loose).toEqual([
      { path: data, mode: 0o755, fix: `chmod 700 ${data}` },
      { path: db, mode: 0o644, fix: `chmod 600 ${db} ${db}-wal` },
      { path: odd, mode: 0o602, fix: `chmod 600 '${dir}/it'\\''s here'` },
    ]);
  });
});
