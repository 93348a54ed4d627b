import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  PostgresDialect,
  PostgresPool,
  PostgresPoolClient,
  sql,
  SqliteDialect,
} from 'kysely';
import { DatabaseError, Pool } from 'pg';
import { createPrivateFile, ensurePrivateDirectory } from '../options/data-files';
import { reusingStatements } from './sqlite-statements';

export type DatabaseKind = 'sqlite' | 'postgres';

/**
 * The driver under `db`, for a library that speaks to it directly (rate-limiter-flexible's SQL
 * limiters). PostgreSQL: the pool Kysely also draws from, with the same timeouts. SQLite: the one
 * connection, which Kysely serialises behind a lock: use it only while holding that lock
 * (`db.connection().execute(…)`), or it may run inside a transaction Kysely has open on it.
 */
export type SqlDriver =
  | { readonly kind: 'postgres'; readonly pool: Pool }
  | { readonly kind: 'sqlite'; readonly connection: BetterSqlite3.Database };

/**
 * The SQL database `databaseUrl` names, shared by the features that keep data in it (the built-in
 * users, the SQL session store). Each feature types its own tables with `db.withTables<…>()` and
 * brings its own migrations (`runMigrations`).
 */
export interface SqlDatabase {
  readonly kind: DatabaseKind;
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no tables known here
  readonly db: Kysely<{}>;
  readonly driver: SqlDriver;
  /**
   * Resolves when `select 1` is answered within `timeoutMs`; rejects at the deadline otherwise,
   * abandoning the query and closing the connection it was waiting on.
   */
  ping(timeoutMs: number): Promise<void>;
}

/** How long PostgreSQL may take; a server that stops answering must fail requests, not hang them. */
export interface PostgresTimeouts {
  /** Opening a connection, or waiting for a free one in the pool. */
  readonly connectMs: number;
  /** Server-side `statement_timeout`; the client gives up one second later if no answer came. */
  readonly statementMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = { connectMs: 2000, statementMs: 5000 };

/** Raised by `ping` when the database did not answer in time. */
export class DatabaseTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'DatabaseTimeoutError';
  }
}

/** Opens the database named by DATABASE_URL (`sqlite:<path>`, `sqlite::memory:` or `postgres://…`). */
export function openDatabase(
  url: string,
  timeouts: PostgresTimeouts = DEFAULT_POSTGRES_TIMEOUTS,
): SqlDatabase {
  if (url.startsWith('sqlite:')) {
    return sqliteDatabase(openSqliteConnection(url.slice('sqlite:'.length)));
  }
  if (/^postgres(ql)?:\/\//.test(url)) return postgresDatabase(url, timeouts);
  throw new Error('DATABASE_URL must be sqlite:<path> or postgres://…');
}

/**
 * Opens an SQLite file or `:memory:`, configured for a web server. A new file is created first,
 * mode 0600 in a folder created 0700, so SQLite (which gives its -wal and -shm files the
 * database's mode) never creates it readable by others; an existing file keeps its mode.
 */
export function openSqliteConnection(path: string): BetterSqlite3.Database {
  if (path !== ':memory:') {
    ensurePrivateDirectory(dirname(path));
    createPrivateFile(path);
  }
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 2000');
  return sqlite;
}

/** A database over an open SQLite connection; closing it is the caller's (or `db.destroy()`'s). */
export function sqliteDatabase(connection: BetterSqlite3.Database): SqlDatabase {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no tables known here
  const db = new Kysely<{}>({
    dialect: new SqliteDialect({ database: reusingStatements(connection) }),
  });
  return {
    kind: 'sqlite',
    db,
    driver: { kind: 'sqlite', connection },
    // Embedded and synchronous: it answers at once or throws (closed file); nothing to wait for.
    ping: async () => {
      await sql`select 1`.execute(db);
    },
  };
}

function postgresDatabase(url: string, timeouts: PostgresTimeouts): SqlDatabase {
  const pool = new Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: timeouts.connectMs,
    idleTimeoutMillis: 30_000,
    // The server cancels slow statements itself (the connection stays usable); the client-side
    // timeout is for a server or network that went silent, where only the client can give up.
    statement_timeout: timeouts.statementMs,
    query_timeout: timeouts.statementMs + 1000,
    keepAlive: true,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  return {
    kind: 'postgres',
    db: new Kysely({
      dialect: new PostgresDialect({ pool: new DiscardingPool(pool) }),
    }),
    driver: { kind: 'postgres', pool },
    ping: (timeoutMs) => pingPostgres(pool, timeoutMs),
  };
}

/**
 * A pg pool for Kysely that closes a connection after any failure other than an error reported by
 * the server. pg's `query_timeout` only stops waiting: the connection still expects the lost answer
 * and would queue every later query behind it, so returning it to the pool (what Kysely does) would
 * keep failing requests long after the database is back.
 */
class DiscardingPool implements PostgresPool {
  constructor(private readonly pool: Pool) {}

  async connect(): Promise<PostgresPoolClient> {
    const client = await this.pool.connect();
    let broken = false;
    // pg emits 'error' on a checked-out client whose connection drops, besides failing its query;
    // the pool listens only while the client is idle, and an unheard 'error' would end the process.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    const query = async (text: string, parameters: ReadonlyArray<unknown>) => {
      try {
        return await client.query(text, [...parameters]);
      } catch (error) {
        if (!(error instanceof DatabaseError)) broken = true;
        throw error;
      }
    };
    return {
      // Kysely's type also has a cursor overload, used only when a cursor is configured (never here).
      query: query as unknown as PostgresPoolClient['query'],
      release: () => {
        client.off('error', onError);
        client.release(broken);
      },
    };
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

async function pingPostgres(pool: Pool, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const acquiring = pool.connect();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseTimeoutError(timeoutMs)), timeoutMs);
  });
  let client;
  try {
    client = await Promise.race([acquiring, expired]);
  } catch (error) {
    // A connection that arrives after the deadline goes straight back.
    acquiring.then(
      (late) => late.release(),
      () => undefined,
    );
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const remaining = deadline - Date.now();
  if (remaining <= 0) {
    client.release();
    throw new DatabaseTimeoutError(timeoutMs);
  }
  const ignore = () => undefined; // a dropped connection also fails the query below
  client.on('error', ignore);
  try {
    // pg honours a per-query `query_timeout`; its type declarations omit it.
    const select = { text: 'select 1', query_timeout: remaining };
    await client.query(select);
    client.off('error', ignore);
    client.release();
  } catch (error) {
    client.off('error', ignore);
    // The connection may still be waiting for an answer that will never come: close it.
    client.release(true);
    throw error instanceof Error && error.message === 'Query read timeout'
      ? new DatabaseTimeoutError(timeoutMs)
      : error;
  }
}
