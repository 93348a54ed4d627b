import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { RateLimiterPostgres, RateLimiterSQLite } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../src/common/errors';
import { openDatabase, SqlDatabase } from '../src/database/database';
import { runMigrations } from '../src/database/migrations';
import { rateLimitKey } from '../src/rate-limit/rate-limit.policy';
import { RATE_LIMIT_MIGRATIONS, rateLimitsDb } from '../src/rate-limit/sql-rate-limit.schema';
import { SqlRateLimitStore } from '../src/rate-limit/sql-rate-limit.store';
import { rateLimitStoreContract, rule } from './contracts/rate-limit-store.contract';
import { databaseUrl, serverAddress, ThrowawayDatabases } from './support/postgres';
import { describeWithPostgres } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

async function migrated(database: SqlDatabase): Promise<SqlDatabase> {
  await runMigrations(database.db, database.kind, RATE_LIMIT_MIGRATIONS);
  return database;
}

/** A counter as rate-limiter-flexible leaves it once its window has ended (nobody came back). */
async function insertExpiredCounters(database: SqlDatabase, prefix: string, count: number) {
  const ended = Date.now() - 60_000;
  await rateLimitsDb(database)
    .insertInto('rate_limits')
    .values(
      Array.from({ length: count }, (_, i) => ({
        key: `${prefix}:${rateLimitKey(String(i))}`,
        points: 3,
        expire: ended - i,
      })),
    )
    .execute();
}

/** Columns as the database describes them: name, type, not null, default, primary key. */
type Columns = Array<Record<string, unknown>>;

/**
 * What holds on either database beyond the contract: the table is the library's own, and expired
 * counters are swept in bounded batches through the `expire` index.
 */
function sqlCounterBehaviour(
  open: () => Promise<SqlDatabase>,
  describeColumns: (database: SqlDatabase, table: string) => Promise<Columns>,
  createLibraryTable: (database: SqlDatabase, table: string) => Promise<void>,
  explainSweep: (database: SqlDatabase) => Promise<string>,
): void {
  let database: SqlDatabase;

  beforeAll(async () => {
    database = await open();
  });

  it("migrates exactly the table rate-limiter-flexible would create for itself, plus the sweep's index", async () => {
    await createLibraryTable(database, 'rate_limits_library');
    const ours = await describeColumns(database, 'rate_limits');
    expect(ours.map((column) => column.name)).toEqual(['key', 'points', 'expire']);
    expect(ours).toEqual(await describeColumns(database, 'rate_limits_library'));
    expect(await explainSweep(database)).toMatch(/rate_limits_expire/);
  });

  it('keeps one row per rule and key, under <rule>:<key>', async () => {
    const store = new SqlRateLimitStore(database);
    const [a, b] = [rule(5), rule(5)];
    const key = rateLimitKey('203.0.113.9');
    await store.consume(a, key);
    await store.consume(a, key);
    await store.consume(b, key);
    const rows = await rateLimitsDb(database)
      .selectFrom('rate_limits')
      .select(['key', 'points', 'expire'])
      .where('key', 'in', [`${a.name}:${key}`, `${b.name}:${key}`])
      .orderBy('points')
      .execute();
    expect(rows.map((row) => [row.key, row.points])).toEqual([
      [`${b.name}:${key}`, 1],
      [`${a.name}:${key}`, 2],
    ]);
    const ends = rows.map((row) => Number(row.expire) - Date.now());
    for (const msLeft of ends) {
      expect(msLeft).toBeGreaterThan(0);
      expect(msLeft).toBeLessThanOrEqual(a.windowSeconds * 1000);
    }
  });

  it('sweeps expired counters in batches of at most the given size and keeps live ones counting', async () => {
    const store = new SqlRateLimitStore(database);
    const live = rule(2);
    await store.consume(live, 'live-key');
    await store.consume(live, 'live-key');
    await insertExpiredCounters(database, rule(3).name, 25);

    const batches: number[] = [];
    for (let more = true; more && batches.length < 50;) {
      const result = await store.deleteExpired(10);
      expect(result.removed).toBeLessThanOrEqual(10);
      batches.push(result.removed);
      more = result.more;
    }
    expect(batches.slice(0, 2)).toEqual([10, 10]);
    expect(batches.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(25);
    const left = await rateLimitsDb(database)
      .selectFrom('rate_limits')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('expire', '<=', Date.now())
      .executeTakeFirstOrThrow();
    expect(Number(left.n)).toBe(0);
    // The live counter was kept: its third attempt in the window is still refused.
    expect((await store.consume(live, 'live-key')).allowed).toBe(false);
  });
}

describe('RateLimitStore contract: SqlRateLimitStore on SQLite', () => {
  let dir: string;
  let database: SqlDatabase;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-sql-rate-limits-'));
    database = await migrated(openDatabase(`sqlite:${join(dir, 'rate-limits.db')}`));
  });

  afterAll(async () => {
    await database.db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  rateLimitStoreContract(async () => ({
    store: new SqlRateLimitStore(database),
    close: async () => undefined,
  }));

  describe('SQL behaviour', () => {
    sqlCounterBehaviour(
      async () => database,
      async (db, table) => {
        const rows = await sql<Record<string, unknown>>`select name, type, "notnull", dflt_value, pk
          from pragma_table_info(${table}) order by cid`.execute(db.db);
        return rows.rows;
      },
      async (db, table) => {
        if (db.driver.kind !== 'sqlite') throw new Error('expected SQLite');
        const connection = db.driver.connection;
        await new Promise<void>((resolve, reject) => {
          new RateLimiterSQLite(
            {
              storeClient: connection,
              storeType: 'better-sqlite3',
              tableName: table,
              points: 1,
              duration: 60,
              clearExpiredByTimeout: false,
            },
            (error?: unknown) => (error ? reject(error as Error) : resolve()),
          );
        });
      },
      async (db) => {
        const plan = await sql<{ detail: string }>`explain query plan
          delete from rate_limits where key in
            (select key from rate_limits where expire <= ${Date.now()} order by expire limit ${10})
            and expire <= ${Date.now()}`.execute(db.db);
        return plan.rows.map((row) => row.detail).join('\n');
      },
    );
  });

  it('never loses an attempt to a transaction the session store has open on the shared connection', async () => {
    // The session store holds the one connection across the awaits of a BEGIN IMMEDIATE
    // transaction. An attempt counted meanwhile on the raw connection would join that
    // transaction (as a savepoint) and vanish when it rolls back.
    const store = new SqlRateLimitStore(database);
    const limit = rule(1);
    let begun!: () => void;
    const inTransaction = new Promise<void>((resolve) => (begun = resolve));
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const transaction = database.db.connection().execute(async (connection) => {
      await sql`begin immediate`.execute(connection);
      begun();
      await finished;
      await sql`rollback`.execute(connection);
    });
    await inTransaction;
    const attempt = store.consume(limit, 'k');
    finish();
    await transaction;
    expect((await attempt).allowed).toBe(true);
    // The attempt counted: the limit of 1 is reached.
    expect((await store.consume(limit, 'k')).allowed).toBe(false);
  });

  it('fails with StoreUnavailableError, never a pass, once the database is closed', async () => {
    const closed = await migrated(openDatabase('sqlite::memory:'));
    const store = new SqlRateLimitStore(closed);
    expect((await store.consume(rule(5), 'k')).allowed).toBe(true);
    await closed.db.destroy();
    await expect(store.consume(rule(5), 'k')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.reset(rule(5), 'k')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.deleteExpired(10)).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describeWithPostgres('RateLimitStore contract: SqlRateLimitStore on PostgreSQL', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl);
  let url: string;
  let database: SqlDatabase;

  beforeAll(async () => {
    ({ url } = await databases.create());
    database = await migrated(openDatabase(url));
  });

  afterAll(async () => {
    await database.db.destroy();
    await databases.dropAll();
  });

  rateLimitStoreContract(async () => ({
    store: new SqlRateLimitStore(database),
    close: async () => undefined,
  }));

  describe('SQL behaviour', () => {
    sqlCounterBehaviour(
      async () => database,
      async (db, table) => {
        const rows = await sql<Record<string, unknown>>`
          select c.column_name as name, c.data_type as type,
            c.character_maximum_length as length, c.is_nullable as nullable,
            c.column_default as default,
            exists (
              select 1 from information_schema.table_constraints t
                join information_schema.key_column_usage k
                  on k.constraint_name = t.constraint_name and k.table_name = t.table_name
              where t.table_name = c.table_name and t.constraint_type = 'PRIMARY KEY'
                and k.column_name = c.column_name
            ) as pk
          from information_schema.columns c
          where c.table_schema = current_schema() and c.table_name = ${table}
          order by c.ordinal_position`.execute(db.db);
        return rows.rows;
      },
      async (db, table) => {
        if (db.driver.kind !== 'postgres') throw new Error('expected PostgreSQL');
        const pool = db.driver.pool;
        await new Promise<void>((resolve, reject) => {
          new RateLimiterPostgres(
            {
              storeClient: pool,
              storeType: 'pool',
              tableName: table,
              points: 1,
              duration: 60,
              clearExpiredByTimeout: false,
            },
            (error?: unknown) => (error ? reject(error as Error) : resolve()),
          );
        });
      },
      async (db) => {
        // The planner picks the index once the table is big enough for it to matter.
        await sql`insert into rate_limits (key, points, expire)
          select 'bulk:' || n, 1, 4000000000000 + n from generate_series(1, 20000) as n`.execute(
          db.db,
        );
        await sql`analyze rate_limits`.execute(db.db);
        const now = Date.now();
        const plan = await sql<{ 'QUERY PLAN': string }>`explain
          delete from rate_limits where key in
            (select key from rate_limits where expire <= ${now} order by expire limit ${10})
            and expire <= ${now}`.execute(db.db);
        return plan.rows.map((row) => row['QUERY PLAN']).join('\n');
      },
    );
  });

  it('shares one counter between two instances on separate pools: limit 5, 10 attempts, exactly 5 allowed', async () => {
    const other = openDatabase(url);
    try {
      const stores = [new SqlRateLimitStore(database), new SqlRateLimitStore(other)];
      const limit = rule(5);
      const key = rateLimitKey('victim@example.com');
      const decisions = await Promise.all(
        Array.from({ length: 10 }, (_, i) => stores[i % 2].consume(limit, key)),
      );
      expect(decisions.filter((decision) => decision.allowed)).toHaveLength(5);
      // Both see the one counter; a reset through either clears it for both.
      expect((await stores[0].consume(limit, key)).allowed).toBe(false);
      expect((await stores[1].consume(limit, key)).allowed).toBe(false);
      await stores[1].reset(limit, key);
      expect((await stores[0].consume(limit, key)).allowed).toBe(true);
    } finally {
      await other.db.destroy();
    }
  });

  describe('the database unreachable', () => {
    it('fails every attempt with StoreUnavailableError (a cut or a silent server), keeps counting once it is back', async () => {
      const proxy = await TcpProxy.start(serverAddress(serverUrl));
      const name = new URL(url).pathname.slice(1);
      const proxied = openDatabase(
        databaseUrl(serverUrl, name, { host: '127.0.0.1', port: proxy.port }),
        { connectMs: 500, statementMs: 500 },
      );
      try {
        const store = new SqlRateLimitStore(proxied);
        const limit = rule(3);
        expect((await store.consume(limit, 'k')).allowed).toBe(true);

        for (const outage of ['cut', 'silent'] as const) {
          if (outage === 'cut') await proxy.cut();
          else proxy.silence();
          await expect(store.consume(limit, 'k')).rejects.toBeInstanceOf(StoreUnavailableError);
          await expect(store.reset(limit, 'other')).rejects.toBeInstanceOf(StoreUnavailableError);
          await expect(store.deleteExpired(10)).rejects.toBeInstanceOf(StoreUnavailableError);
          await proxy.restore();
        }
        // The attempt before the outages still counts; none during them did.
        expect((await store.consume(limit, 'k')).allowed).toBe(true);
        expect((await store.consume(limit, 'k')).allowed).toBe(true);
        expect((await store.consume(limit, 'k')).allowed).toBe(false);
      } finally {
        await proxied.db.destroy();
        await proxy.close();
      }
    });
  });
});
