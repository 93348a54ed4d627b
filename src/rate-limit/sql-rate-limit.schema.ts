import { ColumnType, Kysely, Migration } from 'kysely';
import { DatabaseKind, SqlDatabase } from '../database/database';
import { MigrationSet } from '../database/migrations';

/** The one table of every rule's counters. */
export const RATE_LIMIT_TABLE = 'rate_limits';

/** Milliseconds since the epoch: `bigint` on PostgreSQL, which pg reads back as text. */
type Milliseconds = ColumnType<number | string, number, number>;

/**
 * rate-limiter-flexible's own table (`RateLimiterPostgres`, `RateLimiterSQLite`): one row per
 * counter, keyed by `<rule>:<key>`, with the attempts of its window and when the window ends.
 */
export type RateLimitsTable = {
  key: string;
  points: ColumnType<number, number | undefined, number>;
  /** End of the window, in ms; null only for a limiter without a duration (none here). */
  expire: Milliseconds | null;
};

export type RateLimitsSchema = {
  rate_limits: RateLimitsTable;
};

/** The shared database, typed with the counters' table. */
export function rateLimitsDb(database: SqlDatabase): Kysely<RateLimitsSchema> {
  return database.db.withTables<RateLimitsSchema>();
}

/**
 * The counters' table, in a migration table of its own. Its columns are exactly those the library
 * would create itself (`_getCreateTableStmt` of each limiter, per database), so the limiters run
 * with `tableCreated: true` and never issue a CREATE TABLE of their own; the index on `expire` is
 * ours, for the bounded sweep (the library never reads it).
 */
export const RATE_LIMIT_MIGRATIONS: MigrationSet = {
  table: 'rate_limits_migration',
  migrations(kind: DatabaseKind): Record<string, Migration> {
    return {
      '0001_create_rate_limits': {
        async up(db: Kysely<unknown>) {
          await db.schema
            .createTable(RATE_LIMIT_TABLE)
            .addColumn('key', kind === 'postgres' ? 'varchar(255)' : 'text', (col) =>
              col.primaryKey(),
            )
            .addColumn('points', 'integer', (col) => col.notNull().defaultTo(0))
            .addColumn('expire', kind === 'postgres' ? 'bigint' : 'integer')
            .execute();
          await db.schema
            .createIndex('rate_limits_expire')
            .on(RATE_LIMIT_TABLE)
            .column('expire')
            .execute();
        },
      },
    };
  },
};
