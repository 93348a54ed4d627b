import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** How many distinct statements a connection keeps prepared (the service issues a few dozen). */
export const STATEMENT_CACHE_SIZE = 200;

/**
 * The better-sqlite3 connection as Kysely's SQLite dialect sees it, with the statements it
 * prepares kept for reuse. Kysely's driver prepares every query it runs anew (`prepare(sql)`,
 * SQLite parsing and planning the text each time: the largest single cost of a login's user
 * query); here the same SQL text gets the statement prepared the first time, for the
 * `capacity` texts used most recently. Sharing one is safe: Kysely runs one query at a time on
 * the connection (it holds a lock from acquiring the connection until the query, or a stream's
 * iteration, is done), and better-sqlite3 resets a statement after every run, failed or not.
 */
export function reusingStatements(
  connection: BetterSqlite3.Database,
  capacity = STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => {
      statements.clear();
      connection.close();
    },
    prepare: (sql) => {
      let statement = statements.get(sql);
      if (statement === undefined) {
        // A statement that does not prepare (a syntax error, a missing table) throws here and is
        // not kept: the next query with that text tries again.
        statement = connection.prepare(sql);
        if (statements.size >= capacity)
          statements.delete(statements.keys().next().value as string);
      } else {
        statements.delete(sql);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
