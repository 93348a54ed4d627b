import { ColumnType, Kysely } from 'kysely';
import { SqlDatabase } from '../../database/database';

/** Written as ISO 8601 text on both databases; read back as text (SQLite) or a Date (timestamptz). */
type Timestamp = ColumnType<string | Date, string, string>;
/** A timestamp the database fills in on insert. */
type DefaultedTimestamp = ColumnType<string | Date, string | undefined, string>;

export type UsersTable = {
  id: string;
  email: string;
  /** `emailSkeleton(email)`, unique; null only on rows from before it existed that could not be
   *  normalised without colliding (see `normaliseStoredEmails`). */
  email_skeleton: string | null;
  display_name: string | null;
  password_hash: string;
  created_at: Timestamp;
  updated_at: DefaultedTimestamp;
};

/** The tables of the built-in user database. */
export type UsersSchema = {
  users: UsersTable;
};

/** The shared database, typed with the users' tables. */
export function usersDb(database: SqlDatabase): Kysely<UsersSchema> {
  return database.db.withTables<UsersSchema>();
}
