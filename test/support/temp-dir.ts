import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A folder of the enclosing `describe`'s own: made (under the system's temp folder, named
 * `<prefix>…`) before its first test, removed with everything in it after its last. Returns
 * the folder's path, to be asked for inside tests and hooks.
 */
export function temporaryDirectory(prefix: string): () => string {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (dir === undefined)
      throw new Error(`temporaryDirectory(${prefix}) asked for outside a test`);
    return dir;
  };
}
