import { Kysely, Migration, MigrationProvider, Migrator, sql } from 'kysely';
import { classifyStoreFailure } from '../../common/store-failure';
import { DatabaseKind } from './database';

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
  const migrator = new Migrator({ db, provider: new InCodeMigrationProvider(kind) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error) {
    // The reason and code only: the driver's message can name the database host and user.
    const { reason, code } = classifyStoreFailure(error);
    throw new Error(
      `Database migration ${failed?.migrationName ?? ''} failed (${code ? `${reason}, ${code}` : reason})`,
    );
  }
}
