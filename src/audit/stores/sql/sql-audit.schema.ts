import { ColumnType, Kysely, Migration } from 'kysely';
import { SqlDatabase } from '../../../database/database';
import { MigrationSet } from '../../../database/migrations';

/** Milliseconds since the epoch: `bigint`, which pg reads back as text. */
type Millis = ColumnType<number | string, number, number>;

export type AuditEventsTable = {
  /** ULID: sortable by time; the listing's order and cursor. */
  id: string;
  user_id: string;
  type: string;
  at: Millis;
  session_id: string | null;
  actor_session_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  /** `GeoLocation` as JSON text. */
  location: string | null;
  /** `AuditDetail` as JSON text. */
  detail: string | null;
};

export type AuditSchema = {
  audit_events: AuditEventsTable;
};

export function auditDb(database: SqlDatabase): Kysely<AuditSchema> {
  return database.db.withTables<AuditSchema>();
}

/** The audit trail's schema changes, in a migration table of their own. */
export const AUDIT_MIGRATIONS: MigrationSet = {
  table: 'audit_migration',
  migrations(): Record<string, Migration> {
    return {
      '0001_create_audit_events': {
        async up(db: Kysely<unknown>) {
          await db.schema
            .createTable('audit_events')
            .addColumn('id', 'text', (col) => col.primaryKey())
            .addColumn('user_id', 'text', (col) => col.notNull())
            .addColumn('type', 'text', (col) => col.notNull())
            .addColumn('at', 'bigint', (col) => col.notNull())
            .addColumn('session_id', 'text')
            .addColumn('actor_session_id', 'text')
            .addColumn('ip_address', 'text')
            .addColumn('user_agent', 'text')
            .addColumn('location', 'text')
            .addColumn('detail', 'text')
            .execute();
          // A user's events newest first, from a cursor: one range of this index.
          await db.schema
            .createIndex('audit_events_user_id_id')
            .on('audit_events')
            .columns(['user_id', 'id'])
            .execute();
          // Retention deletes the oldest events first through this index.
          await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
        },
      },
    };
  },
};
