import { execFileSync } from 'node:child_process';
import {
  closeSync,
  ftruncateSync,
  fstatSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNeeding } from './services';

/*
 * A small tmpfs of a suite's own, for a disk that really fills up. Making a folder read-only
 * (chmod) stops nobody when the tests run as root, as in CI; a full file system stops root too.
 * Mounting needs root (CAP_SYS_ADMIN).
 */

/** A new folder with a tmpfs of `bytes` (whole pages) mounted on it, private to its owner. */
export function mountTmpfs(bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'fpa-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

/** Unmounts a folder `mountTmpfs` made (its files go with it) and removes the folder. */
export function unmountTmpfs(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'pipe' });
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Fills the file system of `path` with the file `path`, then frees `leaveFree` bytes of it (a
 * multiple of 4096: whole pages), so the next writes there get that far and then fail (ENOSPC).
 */
export function fillDisk(path: string, leaveFree: number): void {
  const page = Buffer.alloc(4096, 0x2e);
  const fd = openSync(path, 'w', 0o600);
  try {
    for (;;) {
      try {
        writeSync(fd, page);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    // The last write may have been cut short: it still took a whole page.
    const pages = Math.ceil(fstatSync(fd).size / 4096);
    ftruncateSync(fd, Math.max(0, pages * 4096 - leaveFree));
  } finally {
    closeSync(fd);
  }
}

/** Whether this process may mount a tmpfs: tried once on a throwaway folder. */
function canMountTmpfs(): boolean {
  try {
    unmountTmpfs(mountTmpfs(4096));
    return true;
  } catch {
    return false;
  }
}

/** Suites that mount a tmpfs of their own: skipped with the reason locally, failing in CI. */
export function describeWithTmpfs(name: string, body: () => void): void {
  describeNeeding('root (to mount a small tmpfs)', canMountTmpfs(), name, body);
}
