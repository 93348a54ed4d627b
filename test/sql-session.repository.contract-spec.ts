import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { FakeClock } from '../src/common/clock';
import { StoreUnavailableError } from '../src/common/errors';
import { openDatabase, SqlDatabase } from '../src/database/database';
import { runMigrations } from '../src/database/migrations';
import { Session, SessionPolicy } from '../src/sessions/session';
import { SessionLimitReachedError } from '../src/sessions/session.errors';
import { SqlSessionRepository } from '../src/sessions/stores/sql/sql-session.repository';
import { SESSION_MIGRATIONS } from '../src/sessions/stores/sql/sql-session.schema';
import {
  CONTRACT_POLICY,
  hash,
  newSession,
  newUserId,
  sessionRepositoryContract,
} from './contracts/session-repository.contract';
import { databaseUrl, serverAddress, ThrowawayDatabases } from './support/postgres';
import { describeWithPostgres } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

async function migrated(database: SqlDatabase): Promise<SqlDatabase> {
  await runMigrations(database.db, database.kind, SESSION_MIGRATIONS);
  return database;
}

describe('SqlSessionRepository on SQLite', () => {
  let dir: string;
  let database: SqlDatabase;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-sql-sessions-'));
    database = await migrated(openDatabase(`sqlite:${join(dir, 'sessions.db')}`));
  });

  afterAll(async () => {
    await database.db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  sessionRepositoryContract(
    'SqlSessionRepository (SQLite)',
    ({ policy, clock }) => ({
      repository: new SqlSessionRepository(database, policy, clock),
      close: async () => undefined,
    }),
    { boundedCapacity: false },
  );
});

describeWithPostgres('SqlSessionRepository on PostgreSQL', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl);
  let database: SqlDatabase;

  beforeAll(async () => {
    const { url } = await databases.create();
    database = await migrated(openDatabase(url));
  });

  afterAll(async () => {
    await database.db.destroy();
    await databases.dropAll();
  });

  sessionRepositoryContract(
    'SqlSessionRepository (PostgreSQL)',
    ({ policy, clock }) => ({
      repository: new SqlSessionRepository(database, policy, clock),
      close: async () => undefined,
    }),
    { boundedCapacity: false },
  );
});

/**
 * What holds on either database beyond the contract: `instances` are stores over separate
 * connections to one database (two service instances).
 */
function sqlStoreBehaviour(
  name: string,
  open: () => Promise<{ databases: SqlDatabase[]; close(): Promise<void> }>,
  explain: (database: SqlDatabase) => Promise<string>,
): void {
  describe(name, () => {
    let databases: SqlDatabase[];
    let close: () => Promise<void>;
    const clock = new FakeClock(Date.UTC(2026, 0, 1));

    beforeAll(async () => {
      ({ databases, close } = await open());
    });

    afterAll(async () => close());

    const store = (database: SqlDatabase, policy: Partial<SessionPolicy> = {}) =>
      new SqlSessionRepository(database, { ...CONTRACT_POLICY, ...policy }, clock);

    for (const limitPolicy of ['evict-oldest', 'reject'] as const) {
      it(`keeps the per-user limit exact when 20 logins of one user race from two instances (${limitPolicy})`, async () => {
        const [a, b] = databases.map((database) => store(database, { maxPerUser: 5, limitPolicy }));
        const userId = newUserId();
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).create(newSession(userId))),
        );
        const created = results.filter((result) => result.status === 'fulfilled');
        const refused = results.filter((result) => result.status === 'rejected');
        if (limitPolicy === 'reject') {
          expect(created).toHaveLength(5);
          for (const result of refused) {
            expect((result as PromiseRejectedResult).reason).toBeInstanceOf(
              SessionLimitReachedError,
            );
          }
        } else {
          expect(refused).toEqual([]);
        }
        expect(await a.listByUser(userId)).toHaveLength(5);
        expect(await b.listByUser(userId)).toHaveLength(5);
      });
    }

    it('rotates a refresh credential once when two instances present it at the same moment', async () => {
      const [a, b] = databases.map((database) => store(database));
      const { session } = await a.create(newSession(newUserId()));
      const rotate = (repository: SqlSessionRepository) =>
        repository.rotateRefresh(session.id, {
          presentedHash: session.refreshHash,
          nextRefreshHash: hash(),
          nextFingerprintHash: hash(),
          ipAddress: '203.0.113.7',
          userAgent: 'Mozilla/5.0',
        });
      const outcomes = await Promise.all([rotate(a), rotate(b)]);
      // One rotation wins; the other finds the credential just rotated out (within the grace
      // period): never two rotations of one credential, never two live credentials.
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['grace', 'rotated']);
      const rotated = outcomes.find((o) => o.kind === 'rotated') as { session: Session };
      const stored = await b.findById(session.id);
      expect(stored?.refreshHash).toBe(rotated.session.refreshHash);
      expect(stored?.previousRefreshHash).toBe(session.refreshHash);
    });

    it('sweeps expired sessions in batches of at most the given size, in expiry order, through the expiry index', async () => {
      const repository = store(databases[0]);
      const userIds = Array.from({ length: 25 }, newUserId);
      for (const userId of userIds) await repository.create(newSession(userId));
      const survivor = (await repository.create(newSession(newUserId()))).session;
      clock.advance(29 * 60_000);
      await repository.touch(survivor.id, '203.0.113.7', 'Mozilla/5.0');
      clock.advance(2 * 60_000);

      const batches: number[] = [];
      for (let more = true; more && batches.length < 50;) {
        const result = await repository.deleteExpired(10);
        expect(result.removed).toBeLessThanOrEqual(10);
        batches.push(result.removed);
        more = result.more;
      }
      expect(batches.slice(0, 2)).toEqual([10, 10]);
      expect(batches.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(25);
      expect(await repository.findById(survivor.id)).not.toBeNull();
      for (const userId of userIds) expect(await repository.listByUser(userId)).toEqual([]);

      expect(await explain(databases[0])).toMatch(/sessions_expires_at/);
    });
  });
}

// One connection per process on SQLite: better-sqlite3 is synchronous, so a second connection in
// the same process would wait for the write lock (busy_timeout) on the thread the first needs to
// finish its transaction. Processes sharing a file each hold their own connection and wait for
// each other's BEGIN IMMEDIATE; here the two stores share the process's connection.
sqlStoreBehaviour(
  'SqlSessionRepository on SQLite, two stores on one connection',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpa-sql-sessions-'));
    const database = openDatabase(`sqlite:${join(dir, 'sessions.db')}`);
    await runMigrations(database.db, database.kind, SESSION_MIGRATIONS);
    return {
      databases: [database, database],
      close: async () => {
        await database.db.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  async (database) => {
    const plan = await sql<{ detail: string }>`explain query plan
      delete from sessions where id in
        (select id from sessions where expires_at <= ${1} order by expires_at limit ${10})`.execute(
      database.db,
    );
    return plan.rows.map((row) => row.detail).join('\n');
  },
);

describeWithPostgres('SqlSessionRepository on PostgreSQL, two pools', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl);
  afterAll(() => databases.dropAll());

  sqlStoreBehaviour(
    'two instances',
    async () => {
      const { url } = await databases.create();
      const opened = [openDatabase(url), openDatabase(url)];
      await runMigrations(opened[0].db, opened[0].kind, SESSION_MIGRATIONS);
      return {
        databases: opened,
        close: async () => {
          for (const database of opened) await database.db.destroy();
        },
      };
    },
    async (database) => {
      // The planner picks the index once the table is big enough for it to matter.
      await sql`insert into sessions (id, user_id, fingerprint_hash, refresh_hash, ip_address,
          user_agent, created_at, last_activity, idle_expires_at, absolute_expires_at, expires_at)
        select 'bulk-' || n, 'bulk-user-' || n, 'f', 'r', '203.0.113.7', 'ua', 0, 0,
          2000000000 + n, 2000000000 + n, 2000000000 + n
        from generate_series(1, 20000) as n`.execute(database.db);
      await sql`analyze sessions`.execute(database.db);
      const plan = await sql<{ 'QUERY PLAN': string }>`explain
        delete from sessions where id in
          (select id from sessions where expires_at <= ${1767225600} order by expires_at limit ${10})`.execute(
        database.db,
      );
      return plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    },
  );

  describe('the database unreachable', () => {
    it('fails every call with StoreUnavailableError (a cut or a silent server) and recovers when it is back', async () => {
      const { name } = await databases.create();
      const proxy = await TcpProxy.start(serverAddress(serverUrl));
      const database = openDatabase(
        databaseUrl(serverUrl, name, { host: '127.0.0.1', port: proxy.port }),
        { connectMs: 500, statementMs: 500 },
      );
      try {
        await runMigrations(database.db, database.kind, SESSION_MIGRATIONS);
        const clock = new FakeClock(Date.UTC(2026, 0, 1));
        const repository = new SqlSessionRepository(database, CONTRACT_POLICY, clock);
        const userId = newUserId();
        const { session } = await repository.create(newSession(userId));

        for (const outage of ['cut', 'silent'] as const) {
          if (outage === 'cut') await proxy.cut();
          else proxy.silence();
          await expect(repository.findById(session.id)).rejects.toBeInstanceOf(
            StoreUnavailableError,
          );
          await expect(repository.create(newSession(userId))).rejects.toBeInstanceOf(
            StoreUnavailableError,
          );
          await expect(
            repository.rotateRefresh(session.id, {
              presentedHash: session.refreshHash,
              nextRefreshHash: hash(),
              nextFingerprintHash: hash(),
              ipAddress: '203.0.113.7',
              userAgent: 'Mozilla/5.0',
            }),
          ).rejects.toBeInstanceOf(StoreUnavailableError);
          await expect(repository.stats()).rejects.toBeInstanceOf(StoreUnavailableError);
          await proxy.restore();
          expect((await repository.findById(session.id))?.refreshHash).toBe(session.refreshHash);
        }
      } finally {
        await database.db.destroy();
        await proxy.close();
      }
    });
  });
});
