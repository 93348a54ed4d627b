import { Kysely, Migration, MigrationProvider, MigrationResultSet, Migrator } from 'kysely';
import { classifyStoreFailure } from '../common/store-failure';
import { DatabaseKind } from './database';

/**
 * One feature's schema changes, kept in a migration table of its own, so each feature (the users,
 * the SQL session store) migrates on its own and a database holds only the features in use.
 */
export interface MigrationSet {
  /** Kysely's table of applied migrations for this feature (and `<name>_lock` beside it). */
  readonly table: string;
  /** Schema changes, in order. Never edit one that has shipped; add the next. */
  migrations(kind: DatabaseKind): Record<string, Migration>;
}

class InCodeMigrationProvider implements MigrationProvider {
  constructor(
    private readonly set: MigrationSet,
    private readonly kind: DatabaseKind,
  ) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return this.set.migrations(this.kind);
  }
}

/**
 * Brings the feature's schema up to date, or up to (and including) the migration named by `to`:
 * a database as an older release left it. Instances starting together are safe: Kysely holds a
 * lock (an advisory lock on PostgreSQL) while it migrates. Throws with the failing migration's name.
 */
export async function runMigrations(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
  db: Kysely<any>,
  kind: DatabaseKind,
  set: MigrationSet,
  to?: string,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new InCodeMigrationProvider(set, kind),
    migrationTableName: set.table,
    migrationLockTableName: `${set.table}_lock`,
  });
  const run = (m: Migrator): Promise<MigrationResultSet> =>
    to === undefined ? m.migrateToLatest() : m.migrateTo(to);
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
