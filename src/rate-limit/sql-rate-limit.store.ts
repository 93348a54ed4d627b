import { RateLimiterAbstract, RateLimiterPostgres, RateLimiterSQLite } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../common/errors';
import { SqlDatabase } from '../database/database';
import { deleteOldest } from '../database/delete-oldest';
import type { SweepResult } from '../common/sweep';
import { FlexibleRateLimitStore, RateLimitRule } from './rate-limit.store';
import { RATE_LIMIT_TABLE } from './sql-rate-limit.schema';

/**
 * Counters in the SQL database `databaseUrl` names (`sessionStore: 'sql'`), shared by every
 * instance on that database: rate-limiter-flexible's own limiters, `RateLimiterPostgres` over the
 * shared pg pool and `RateLimiterSQLite` over the shared better-sqlite3 connection. Every rule
 * counts in one table (`RATE_LIMIT_MIGRATIONS`, migrated before the store is made), under keys
 * `<rule>:<key>`; each attempt is one atomic upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`).
 *
 * - PostgreSQL: the pool's timeouts bound every attempt (2 s to connect, 5 s statements, 6 s for a
 *   silent server), and pg closes a connection whose query failed, so a dead database fails the
 *   attempt (`StoreUnavailableError`, 503) and the next one after it is back succeeds.
 * - SQLite: Kysely keeps the one connection behind a lock and holds it across a transaction's
 *   awaits (the session store's `BEGIN IMMEDIATE`). Each call takes that lock first, or its upsert
 *   would run inside such a transaction (better-sqlite3 nests it as a savepoint) and vanish with
 *   that transaction's rollback.
 * - Expired counters are not deleted by the limiters (`clearExpiredByTimeout: false`: its timer,
 *   one per rule, deletes the whole backlog in one unbounded statement, is never stopped, and on
 *   SQLite an error in it is an unhandled rejection); the session cleanup job calls
 *   `deleteExpired` instead, in batches through the index on `expire`. A counter whose window
 *   has ended counts from zero again whether it was swept or not.
 *
 * The database is the module's shared one: its owner opens and closes it.
 */
export class SqlRateLimitStore extends FlexibleRateLimitStore {
  constructor(private readonly database: SqlDatabase) {
    super();
  }

  protected createLimiter(rule: RateLimitRule): RateLimiterAbstract {
    const common = {
      keyPrefix: rule.name,
      points: rule.limit,
      duration: rule.windowSeconds,
      tableName: RATE_LIMIT_TABLE,
      tableCreated: true,
      clearExpiredByTimeout: false,
    };
    const driver = this.database.driver;
    return driver.kind === 'postgres'
      ? new RateLimiterPostgres({ ...common, storeClient: driver.pool, storeType: 'pool' })
      : new RateLimiterSQLite({
          ...common,
          storeClient: driver.connection,
          storeType: 'better-sqlite3',
        });
  }

  protected override call<T>(work: () => Promise<T>): Promise<T> {
    if (this.database.driver.kind === 'postgres') return work();
    return this.database.db.connection().execute(() => work());
  }

  /**
   * Deletes up to `max` of the counters whose window ended first: a range of the `expire` index.
   * The outer condition is checked again on the row being deleted, so a counter that an attempt
   * has just started afresh (on PostgreSQL, between the select and the delete) is kept.
   */
  override async deleteExpired(max: number): Promise<SweepResult> {
    const due = {
      table: RATE_LIMIT_TABLE,
      key: 'key',
      column: 'expire',
      op: '<=',
      value: Date.now(),
    } as const;
    try {
      return await deleteOldest(this.database.db, due, max);
    } catch (error) {
      throw new StoreUnavailableError('rate-limit', error);
    }
  }
}
