import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Generated, Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Pool } from 'pg';

export interface UsersTable {
  id: string;
  email: string;
  display_name: string | null;
  password_hash: string;
  /** ISO text on SQLite, timestamptz on PostgreSQL. */
  created_at: string | Date;
  updated_at: Generated<string | Date>;
}

export interface DatabaseSchema {
  users: UsersTable;
}

export type DatabaseKind = 'sqlite' | 'postgres';

export interface UsersDatabase {
  readonly kind: DatabaseKind;
  readonly db: Kysely<DatabaseSchema>;
}

/** Opens the user database named by DATABASE_URL (`sqlite:<path>`, `sqlite::memory:` or `postgres://…`). */
export function openDatabase(url: string): UsersDatabase {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const sqlite = new BetterSqlite3(path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 2000');
    return {
      kind: 'sqlite',
      db: new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) }),
    };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new Pool({
      connectionString: url,
      max: 10,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30_000,
      statement_timeout: 5000,
    });
    // An idle client losing its connection must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    // Nor a checked-out one: pg emits 'error' on a client whose connection drops, and the pool
    // only listens while the client is idle. The query in flight still fails (503), and the pool
    // drops the broken client when it is released.
    pool.on('connect', (client) => client.on('error', () => undefined));
    return {
      kind: 'postgres',
      db: new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) }),
    };
  }
  throw new Error('DATABASE_URL must be sqlite:<path> or postgres://…');
}
