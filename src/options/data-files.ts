import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { FingerprintAuthConfig, inDataDir } from './fingerprint-auth-config';

/** The generated JWT key's file name inside dataDir. */
export const JWT_SECRET_FILE_NAME = 'jwt-secret';

/** Creates `dir` and any missing parents with mode 0700; an existing directory is left as it is. */
export function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Creates `path` empty with mode 0600 unless it exists; true when this call created it. */
export function createPrivateFile(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx', 0o600));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** The SQLite file databaseUrl names, or null (PostgreSQL, `sqlite::memory:`). */
export function sqliteFile(databaseUrl: string): string | null {
  if (!databaseUrl.startsWith('sqlite:')) return null;
  const path = databaseUrl.slice('sqlite:'.length);
  return path === ':memory:' ? null : path;
}

/** A file or directory holding the service's data, checked for its mode at start. */
export interface DataPath {
  readonly path: string;
  readonly kind: 'directory' | 'file';
  /** Files that share its mode and its fix (SQLite's -wal and -shm). */
  readonly companions?: readonly string[];
}

/**
 * What is kept on disk for this configuration: dataDir, the SQLite file (wherever databaseUrl
 * puts it), dataDir's JWT key and the session snapshot.
 */
export function dataPaths(config: FingerprintAuthConfig): DataPath[] {
  const paths: DataPath[] = [
    { path: config.dataDir, kind: 'directory' },
    { path: inDataDir(config.dataDir, JWT_SECRET_FILE_NAME), kind: 'file' },
  ];
  const database = sqliteFile(config.databaseUrl);
  if (database !== null) {
    paths.push({
      path: database,
      kind: 'file',
      companions: [`${database}-wal`, `${database}-shm`],
    });
  }
  if (config.sessionSnapshotPath !== undefined) {
    paths.push({ path: config.sessionSnapshotPath, kind: 'file' });
  }
  return paths;
}

export interface LoosePermission {
  readonly path: string;
  /** The permission bits, e.g. 0o644. */
  readonly mode: number;
  /** The command that makes it private. */
  readonly fix: string;
}

/** A path as a shell word: as it is when plain, single-quoted otherwise. */
const shellWord = (path: string): string =>
  /^[A-Za-z0-9_./:@%+=,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;

/**
 * The existing paths among `paths` that group or others may read, write or enter, with the
 * `chmod` that fixes each (700 for a directory, 600 for a file and its companions).
 */
export function loosePermissions(paths: readonly DataPath[]): LoosePermission[] {
  const loose: LoosePermission[] = [];
  for (const { path, kind, companions = [] } of paths) {
    let mode: number;
    try {
      const stats = statSync(path);
      if (kind === 'directory' ? !stats.isDirectory() : !stats.isFile()) continue;
      mode = stats.mode & 0o777;
    } catch {
      continue; // not there (yet): nothing to warn about
    }
    if ((mode & 0o077) === 0) continue;
    const targets = [path, ...companions.filter((companion) => existsSync(companion))];
    const fix = `chmod ${kind === 'directory' ? '700' : '600'} ${targets.map(shellWord).join(' ')}`;
    loose.push({ path, mode, fix });
  }
  return loose;
}
