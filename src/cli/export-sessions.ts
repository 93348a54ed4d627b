import 'reflect-metadata';
import { SystemClock } from '../common/clock';
import { isLive, Session, toSeconds } from '../sessions/session';
import { SnapshotWriteResult, writeSnapshot } from '../sessions/session-snapshot';
import { SessionRepository } from '../sessions/session.repository';
import { runStoreCommand } from './session-store';

const COMMAND = 'sessions:export';

const USAGE = `Usage: npm run sessions:export -- <snapshot file>

Writes the live sessions of the session store the environment names (SESSION_STORE=redis with
REDIS_URL and REDIS_KEY_PREFIX, or SESSION_STORE=sql with DATABASE_URL) to a snapshot file, in
the format of the in-memory store's snapshot (SESSION_SNAPSHOT_PATH). With sessions:import, or as
the snapshot a memory-mode service restores at start, sessions move between any two stores. The
file is written atomically, mode 0600: it holds hashes, never secrets, but it is a session list.
The store is read as it is: sessions created while it runs may or may not be in the file.`;

/** Writes the store's live sessions to `path` (atomically). */
export async function exportSnapshot(
  store: SessionRepository,
  path: string,
  clock = new SystemClock(),
): Promise<SnapshotWriteResult> {
  async function* live(): AsyncGenerator<Session> {
    for await (const session of store.exportAll()) {
      if (isLive(session, toSeconds(clock.now()))) yield session;
    }
  }
  return writeSnapshot(path, live(), { createdAt: new Date(clock.now()) });
}

if (require.main === module) {
  runStoreCommand(
    COMMAND,
    USAGE,
    'SESSION_STORE=memory keeps sessions in the service process, which writes them to its snapshot (SESSION_SNAPSHOT_PATH) itself: set SESSION_STORE (and its connection) to the store to export from',
    async (path, store) => {
      const { count, bytes } = await exportSnapshot(store, path);
      return `${count} sessions written to ${path} (${bytes} bytes)`;
    },
  );
}
