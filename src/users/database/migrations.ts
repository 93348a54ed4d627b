import { Kysely, Migration, MigrationProvider, MigrationResultSet, Migrator, sql } from 'kysely';
import { classifyStoreFailure } from '../../common/store-failure';
import { DatabaseKind } from './database';
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

class InCodeMigrationProvider implements MigrationProvider {
  constructor(private readonly kind: DatabaseKind) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.kind);
  }
}

/** Brings the schema up to date; throws with the failing migration's error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
export async function migrateToLatest(db: Kysely<any>, kind: DatabaseKind): Promise<void> {
  await migrate(db, kind, (migrator) => migrator.migrateToLatest());
}

/** Brings the schema up to (and including) the named migration: a database as an older release left it. */
export async function migrateTo(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
  db: Kysely<any>,
  kind: DatabaseKind,
  name: string,
): Promise<void> {
  await migrate(db, kind, (migrator) => migrator.migrateTo(name));
}

async function migrate(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
  db: Kysely<any>,
  kind: DatabaseKind,
  run: (migrator: Migrator) => Promise<MigrationResultSet>,
): Promise<void> {
  const migrator = new Migrator({ db, provider: new InCodeMigrationProvider(kind) });
  const { error, results } = await run(migrator);
  const failed = results?.find((result) => result.status === 'Error');
  if (error) {
    // The reason and code only: the driver's message can name the database host and user.
    const { reason, code } = classifyStoreFailure(error);
    throw new Error(
      `Database migration ${failed?.migrationName ?? ''} failed (${code ? `${reason}, ${code}` : reason})`,
    );
  }
}
