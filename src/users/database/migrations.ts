import { Kysely, Migration, sql } from 'kysely';
import { DatabaseKind } from '../../database/database';
import { MigrationSet, runMigrations } from '../../database/migrations';
import { normaliseStoredEmails } from './stored-emails';

/** Schema changes, in order. Never edit one that has shipped; add the next. */
function migrations(kind: DatabaseKind): Record<string, Migration> {
  const timestamp = kind === 'postgres' ? 'timestamptz' : 'text';
  const now = kind === 'postgres' ? sql`now()` : sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;
  return {
    '0001_create_users': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('email', 'text', (col) => col.notNull().unique())
          .addColumn('display_name', 'text')
          .addColumn('password_hash', 'text', (col) => col.notNull())
          .addColumn('created_at', sql.raw(timestamp), (col) => col.notNull())
          .addColumn('updated_at', sql.raw(timestamp), (col) => col.notNull().defaultTo(now))
          .execute();
      },
    },
    '0002_email_skeleton': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('users').addColumn('email_skeleton', 'text').execute();
        // Unique, so lookalike emails cannot both register; NULL (rows left unnormalised) is
        // never equal to anything, on SQLite and PostgreSQL alike.
        await db.schema
          .createIndex('users_email_skeleton_key')
          .unique()
          .on('users')
          .column('email_skeleton')
          .execute();
        // Finds the rows left unnormalised at every start without scanning the table.
        await db.schema
          .createIndex('users_email_unnormalised')
          .on('users')
          .column('id')
          .where(sql.ref('email_skeleton'), 'is', null)
          .execute();
        await normaliseStoredEmails(db);
      },
    },
  };
}

/** The users' migrations, in the table Kysely names by default (where releases before the
 *  session store kept them). */
export const USER_MIGRATIONS: MigrationSet = { table: 'kysely_migration', migrations };

/** Brings the users' schema up to date; throws with the failing migration's error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
export async function migrateToLatest(db: Kysely<any>, kind: DatabaseKind): Promise<void> {
  await runMigrations(db, kind, USER_MIGRATIONS);
}

/** Brings the users' schema up to (and including) the named migration: a database as an older release left it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
export async function migrateTo(db: Kysely<any>, kind: DatabaseKind, name: string): Promise<void> {
  await runMigrations(db, kind, USER_MIGRATIONS, name);
}
