import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { openSqliteConnection, sqliteDatabase, SqlDatabase } from '../src/database/database';
import { migrateToLatest } from '../src/users/database/migrations';
import { KyselyUserRepository } from '../src/users/kysely-user.repository';
import {
  Outage,
  UserRepositoryHarness,
  userRepositoryContract,
} from './contracts/user-repository.contract';

interface SqliteHarness extends UserRepositoryHarness {
  readonly connection: BetterSqlite3.Database;
}

async function openSqlite(path: string, cleanUp: () => void = () => undefined) {
  const connection = openSqliteConnection(path);
  const database: SqlDatabase = sqliteDatabase(connection);
  await migrateToLatest(database.db, database.kind);
  const harness: SqliteHarness = {
    connection,
    repository: new KyselyUserRepository(database),
    migrate: () => migrateToLatest(database.db, database.kind),
    close: async () => {
      if (connection.open) await database.db.destroy();
      cleanUp();
    },
  };
  return harness;
}

const closedDatabase: Outage<SqliteHarness> = {
  name: 'database closed',
  silent: false,
  begin: async (harness) => {
    harness.connection.close();
  },
};

userRepositoryContract('SQLite :memory:', () => openSqlite(':memory:'), [closedDatabase]);

userRepositoryContract(
  'SQLite file',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpa-users-'));
    // A folder that does not exist yet: opening creates it.
    return openSqlite(join(dir, 'nested', 'users.db'), () =>
      rmSync(dir, { recursive: true, force: true }),
    );
  },
  [closedDatabase],
);

describe('SQLite file across a restart', () => {
  it('keeps users when the file is opened and migrated again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpa-users-'));
    try {
      const path = join(dir, 'users.db');
      const before = await openSqlite(path);
      const created = await before.repository.create({
        email: 'restart@example.com',
        emailSkeleton: 'skeleton:restart@example.com',
        displayName: 'Restart',
        passwordHash: '$argon2id$x',
      });
      await before.close();

      const after = await openSqlite(path);
      try {
        expect(await after.repository.findByEmail('restart@example.com')).toEqual(created);
      } finally {
        await after.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
