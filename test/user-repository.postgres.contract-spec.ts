import { sql } from 'kysely';
import { StoreUnavailableError } from '../src/common/errors';
import { openDatabase } from '../src/database/database';
import { migrateToLatest } from '../src/users/database/migrations';
import { KyselyUserRepository } from '../src/users/kysely-user.repository';
import {
  Outage,
  UserRepositoryHarness,
  userRepositoryContract,
} from './contracts/user-repository.contract';
import { databaseUrl, serverAddress, ThrowawayDatabases } from './support/postgres';
import { describeWithPostgres } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

interface PostgresHarness extends UserRepositoryHarness {
  /** Sits between the repository's pool and the server, so tests can cut or silence it. */
  readonly proxy: TcpProxy;
}

describeWithPostgres('UserRepository on PostgreSQL', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl);

  afterAll(async () => {
    await databases.dropAll();
  });

  async function openPostgres(): Promise<PostgresHarness> {
    const { name } = await databases.create();
    const proxy = await TcpProxy.start(serverAddress(serverUrl));
    const url = new URL(databaseUrl(serverUrl, name, { host: '127.0.0.1', port: proxy.port }));
    // A session time zone far from UTC: timestamps must not depend on it.
    url.searchParams.set('options', '-c TimeZone=Pacific/Chatham');
    const database = openDatabase(url.toString());
    await migrateToLatest(database.db, database.kind);
    return {
      proxy,
      repository: new KyselyUserRepository(database),
      migrate: () => migrateToLatest(database.db, database.kind),
      close: async () => {
        await proxy.close();
        await database.db.destroy();
        await databases.drop(name);
      },
    };
  }

  const outages: Outage<PostgresHarness>[] = [
    {
      name: 'connection cut',
      silent: false,
      begin: async ({ proxy }) => {
        await proxy.cut();
        return () => proxy.restore();
      },
    },
    {
      name: 'server silent',
      silent: true,
      begin: async ({ proxy }) => {
        proxy.silence();
        return () => proxy.restore();
      },
    },
  ];

  userRepositoryContract('PostgreSQL', openPostgres, outages);

  describe('a connection dropped while a query waits for its answer', () => {
    it('fails that query with StoreUnavailableError, leaves the process running, and recovers', async () => {
      const harness = await openPostgres();
      try {
        const users = harness.repository;
        const known = await users.create({
          email: 'mid-query-drop@example.com',
          emailSkeleton: 'skeleton:mid-query-drop@example.com',
          displayName: 'Mid Query',
          passwordHash: '$argon2id$x',
        });
        harness.proxy.silence();
        const dropped = harness.proxy.nextDrop();
        const pending = users.findById(known.id);
        await dropped; // the query left the client and will never arrive
        await harness.proxy.cut();
        // pg also emits 'error' on the checked-out client here; unheard, it would end the process.
        await expect(pending).rejects.toBeInstanceOf(StoreUnavailableError);
        await harness.proxy.restore();
        expect(await users.findById(known.id)).toEqual(known);
      } finally {
        await harness.close();
      }
    });
  });

  describe('migrations', () => {
    it('run concurrently from three connections on a fresh database: one applies them, none fails', async () => {
      const { url } = await databases.create();
      const instances = [openDatabase(url), openDatabase(url), openDatabase(url)];
      try {
        await Promise.all(instances.map((db) => migrateToLatest(db.db, db.kind)));

        const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(
          instances[0].db,
        );
        expect(applied.rows.map((row) => row.name)).toEqual([
          '0001_create_users',
          '0002_email_skeleton',
        ]);

        // Every instance sees the one schema: a user written by one is read by the others.
        const [a, b, c] = instances.map((db) => new KyselyUserRepository(db));
        const created = await a.create({
          email: 'concurrent-migrations@example.com',
          emailSkeleton: 'skeleton:concurrent-migrations@example.com',
          displayName: null,
          passwordHash: '$argon2id$x',
        });
        expect(await b.findByEmail(created.email)).toEqual(created);
        expect(await c.findById(created.id)).toEqual(created);
      } finally {
        await Promise.all(instances.map((db) => db.db.destroy()));
      }
    });
  });
});
