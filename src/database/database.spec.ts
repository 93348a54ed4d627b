import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteConnection } from './database';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('openSqliteConnection', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-sqlite-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the database 0600 in a 0700 folder, and SQLite gives -wal and -shm the same mode', () => {
    const path = join(dir, 'data', 'users.db');
    const sqlite = openSqliteConnection(path);
    try {
      sqlite.exec('create table t (x)');
      sqlite.exec('insert into t values (1)');
      expect(existsSync(`${path}-wal`)).toBe(true);
      expect({
        dir: mode(join(dir, 'data')),
        db: mode(path),
        wal: mode(`${path}-wal`),
        shm: mode(`${path}-shm`),
      }).toEqual({ dir: 0o700, db: 0o600, wal: 0o600, shm: 0o600 });
    } finally {
      sqlite.close();
    }
  });

  it('keeps the mode of an existing database (start-up warns about it instead)', () => {
    const path = join(dir, 'users.db');
    writeFileSync(path, '');
    chmodSync(path, 0o644);
    const sqlite = openSqliteConnection(path);
    try {
      sqlite.exec('create table t (x)');
      expect([mode(path), mode(`${path}-wal`)]).toEqual([0o644, 0o644]);
    } finally {
      sqlite.close();
    }
  });
});
