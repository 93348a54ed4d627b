import { ColumnType, Kysely, Migration, sql } from 'kysely';
import { SqlDatabase } from '../../../database/database';
import { MigrationSet } from '../../../database/migrations';

/** Seconds since the epoch: `bigint` (no 2038 limit), which pg reads back as text. */
type Seconds = ColumnType<number | string, number, number>;

/** One row per session; names as in `Session`, times in whole seconds. */
export type SessionsTable = {
  id: string;
  user_id: string;
  fingerprint_hash: string;
  refresh_hash: string;
  previous_refresh_hash: string | null;
  refresh_rotated_at: Seconds;
  ip_address: string;
  user_agent: string;
  /** `GeoLocation` as JSON text; null when unknown. */
  location: string | null;
  login_ip_address: string | null;
  login_user_agent: string | null;
  created_at: Seconds;
  last_activity: Seconds;
  idle_expires_at: Seconds;
  absolute_expires_at: Seconds;
  /** The sooner of the two expiries, kept with them: what the live checks and the sweep use. */
  expires_at: Seconds;
};

export type SessionsSchema = {
  sessions: SessionsTable;
};

/** The shared database, typed with the session store's table. */
export function sessionsDb(database: SqlDatabase): Kysely<SessionsSchema> {
  return database.db.withTables<SessionsSchema>();
}

/** The session store's schema changes, in a migration table of their own. */
export const SESSION_MIGRATIONS: MigrationSet = {
  table: 'sessions_migration',
  migrations(): Record<string, Migration> {
    return {
      '0001_create_sessions': {
        async up(db: Kysely<unknown>) {
          await db.schema
            .createTable('sessions')
            .addColumn('id', 'text', (col) => col.primaryKey())
            .addColumn('user_id', 'text', (col) => col.notNull())
            .addColumn('fingerprint_hash', 'text', (col) => col.notNull())
            .addColumn('refresh_hash', 'text', (col) => col.notNull())
            .addColumn('previous_refresh_hash', 'text')
            .addColumn('refresh_rotated_at', 'bigint', (col) => col.notNull().defaultTo(0))
            .addColumn('ip_address', 'text', (col) => col.notNull())
            .addColumn('user_agent', 'text', (col) => col.notNull())
            .addColumn('location', 'text')
            .addColumn('login_ip_address', 'text')
            .addColumn('login_user_agent', 'text')
            .addColumn('created_at', 'bigint', (col) => col.notNull())
            .addColumn('last_activity', 'bigint', (col) => col.notNull())
            .addColumn('idle_expires_at', 'bigint', (col) => col.notNull())
            .addColumn('absolute_expires_at', 'bigint', (col) => col.notNull())
            .addColumn('expires_at', 'bigint', (col) => col.notNull())
            .addCheckConstraint(
              'sessions_expires_at_first',
              sql`expires_at <= idle_expires_at and expires_at <= absolute_expires_at`,
            )
            .execute();
          // A user's sessions: listing, the per-user limit, logout-all.
          await db.schema
            .createIndex('sessions_user_id')
            .on('sessions')
            .column('user_id')
            .execute();
          // The sweep reads expired sessions in expiry order, never the whole table.
          await db.schema
            .createIndex('sessions_expires_at')
            .on('sessions')
            .column('expires_at')
            .execute();
        },
      },
    };
  },
};
