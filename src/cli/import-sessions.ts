import 'reflect-metadata';
import { readSnapshot } from '../sessions/session-snapshot';
import { ImportOutcome, SessionRepository } from '../sessions/session.repository';
import { runStoreCommand } from './session-store';

const COMMAND = 'sessions:import';

const USAGE = `Usage: npm run sessions:import -- <snapshot file>

Loads the sessions of a snapshot (SESSION_SNAPSHOT_PATH, or a file sessions:export wrote) into
the session store the environment names, like the service does: SESSION_STORE=redis with
REDIS_URL and REDIS_KEY_PREFIX, or SESSION_STORE=sql with DATABASE_URL. Each session keeps its
remaining lifetime, so a deployment can move stores without logging anyone out. Sessions already
in the store are left alone; running it twice is safe.`;

/** Sessions written concurrently. */
const IMPORT_BATCH = 500;

export type ImportCounts = Record<ImportOutcome, number>;

/** Imports every session of the snapshot at `path` into `store`; throws on an unreadable or
 *  foreign file (checked whole first: a truncated snapshot imports nothing). */
export async function importSnapshot(
  path: string,
  store: SessionRepository,
): Promise<ImportCounts> {
  const counts: ImportCounts = { imported: 0, exists: 0, expired: 0, foreign: 0 };
  for await (const _ of readSnapshot(path));
  let batch: Promise<void>[] = [];
  for await (const session of readSnapshot(path)) {
    // Many in flight at once: a Redis client pipelines them, a database pool runs them side by side.
    batch.push(store.importSession(session).then((outcome) => void counts[outcome]++));
    if (batch.length >= IMPORT_BATCH) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);
  return counts;
}

if (require.main === module) {
  runStoreCommand(
    COMMAND,
    USAGE,
    'SESSION_STORE=memory keeps sessions in the service process: set SESSION_STORE (and its connection) to the store to load the snapshot into',
    async (path, store) => {
      const counts = await importSnapshot(path, store);
      return (
        `${counts.imported} imported, ${counts.exists} already present, ` +
        `${counts.expired} expired, ${counts.foreign} with an id not made for its user (skipped)`
      );
    },
  );
}
