import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmailTakenError } from '../src/common/errors';
import { openDatabase, SqlDatabase } from '../src/database/database';
import { usersDb } from '../src/users/database/schema';
import { migrateTo, migrateToLatest } from '../src/users/database/migrations';
import {
  normaliseStoredEmails,
  unresolvedEmailsWarning,
} from '../src/users/database/stored-emails';
import { emailSkeleton } from '../src/users/email-address';
import { KyselyUserRepository } from '../src/users/kysely-user.repository';
import { PasswordHasher } from '../src/users/password-hasher';
import { TEST_SECRET } from './support/app';
import { ThrowawayDatabases } from './support/postgres';
import { startService } from './support/process';
import { describeWithPostgres } from './support/services';

const PASSWORD = 'correct horse battery staple';

/**
 * Rows as the release before normalisation stored them (trimmed and lower-cased only), oldest
 * first. `expected` is the email after the migration; `left` says why a row keeps its old one.
 */
const OLD_ROWS = [
  { id: 'acct-1', email: 'alice@example.com', expected: 'alice@example.com' },
  { id: 'acct-2', email: 'ｂｏｂ@example.com', expected: 'bob@example.com' },
  { id: 'acct-3', email: 'strasse@example.com', expected: 'strasse@example.com' },
  // Normalises to acct-3's email: left as it is.
  { id: 'acct-4', email: 'straße@example.com', left: 'collides', with: 'acct-3' },
  { id: 'acct-5', email: 'scope@example.com', expected: 'scope@example.com' },
  // Already normal (Cyrillic), but looks like acct-5: keeps its email, without a skeleton.
  { id: 'acct-6', email: 'ѕсоре@example.com', left: 'lookalike', with: 'acct-5' },
  { id: 'acct-7', email: 'zw\u200bsp@example.com', left: 'not_acceptable' },
  { id: 'acct-8', email: 'kai@xn--bcher-kva.de', expected: 'kai@bücher.de' },
  // Fullwidth alice: normalises to the email acct-1 holds.
  { id: 'acct-9', email: 'ａｌｉｃｅ@example.com', left: 'collides', with: 'acct-1' },
] as const;

type Harness = { database: SqlDatabase; close(): Promise<void> };

async function seedOldSchema(database: SqlDatabase, passwordHash: string): Promise<void> {
  await migrateTo(database.db, database.kind, '0001_create_users');
  const start = Date.UTC(2025, 0, 1);
  await usersDb(database)
    .insertInto('users')
    .values(
      OLD_ROWS.map((row, i) => ({
        id: row.id,
        email: row.email,
        display_name: null,
        password_hash: passwordHash,
        created_at: new Date(start + i * 60_000).toISOString(),
      })) as never,
    )
    .execute();
}

async function storedRows(database: SqlDatabase) {
  const rows = await usersDb(database)
    .selectFrom('users')
    .select(['id', 'email', 'email_skeleton'])
    .orderBy('id')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.id, row]));
}

function migrationSuite(name: string, open: () => Promise<Harness>): void {
  describe(`email normalisation migration on ${name}`, () => {
    let harness: Harness;
    let passwordHash: string;

    beforeAll(async () => {
      passwordHash = await new PasswordHasher().hash(PASSWORD);
    });

    beforeEach(async () => {
      harness = await open();
      await seedOldSchema(harness.database, passwordHash);
    });

    afterEach(async () => {
      await harness.close();
    });

    it('normalises old emails and fills the skeleton, leaving colliding rows as they were', async () => {
      const { database } = harness;
      await migrateToLatest(database.db, database.kind);
      const rows = await storedRows(database);
      for (const row of OLD_ROWS) {
        if ('expected' in row) {
          expect(rows[row.id]).toEqual({
            id: row.id,
            email: row.expected,
            email_skeleton: emailSkeleton(row.expected),
          });
        } else {
          expect(rows[row.id]).toEqual({ id: row.id, email: row.email, email_skeleton: null });
        }
      }
    });

    it('reports what it left, by id and reason, and never an email', async () => {
      const { database } = harness;
      await migrateToLatest(database.db, database.kind);
      const unresolved = await normaliseStoredEmails(database.db);
      const expected = OLD_ROWS.filter((row) => 'left' in row).map((row) => ({
        id: row.id,
        reason: row.left,
        ...('with' in row ? { conflictsWith: row.with } : {}),
        ...(row.left === 'not_acceptable' ? { detail: expect.stringContaining('U+200B') } : {}),
      }));
      expect(unresolved).toEqual(expect.arrayContaining(expected));
      expect(unresolved).toHaveLength(expected.length);

      const warning = unresolvedEmailsWarning(unresolved) as string;
      for (const row of OLD_ROWS) {
        if ('left' in row) expect(warning).toContain(row.id);
        expect(warning).not.toContain(row.email);
        expect(warning).not.toContain(row.email.split('@')[0]);
      }
      expect(warning).toMatch(/UPDATE users SET email/);
      expect(unresolvedEmailsWarning([])).toBeNull();
    });

    it('enforces the skeleton from then on: lookalikes of migrated accounts are taken', async () => {
      const { database } = harness;
      await migrateToLatest(database.db, database.kind);
      const users = new KyselyUserRepository(database);
      const lookalike = 'ѕсоре@example.com'; // acct-6's email, free of the unique email index
      await expect(
        users.create({
          email: 'bоb@example.com', // Cyrillic о: a new email, acct-2's skeleton
          emailSkeleton: emailSkeleton('bob@example.com'),
          displayName: null,
          passwordHash,
        }),
      ).rejects.toBeInstanceOf(EmailTakenError);
      expect((await users.findByEmail(lookalike))?.id).toBe('acct-6');
      expect((await users.findByEmail('bob@example.com'))?.id).toBe('acct-2');
      expect((await users.findByEmail('kai@bücher.de'))?.id).toBe('acct-8');
    });

    it('normalises a left row at the next pass once its conflict is resolved', async () => {
      const { database } = harness;
      await migrateToLatest(database.db, database.kind);
      // The operator resolves two: one account deleted, one given a distinct address.
      await new KyselyUserRepository(database).delete('acct-1');
      await usersDb(database)
        .updateTable('users')
        .set({ email: 'Straße.Two@example.com' })
        .where('id', '=', 'acct-4')
        .execute();

      const left = await normaliseStoredEmails(database.db);
      expect(left.map((entry) => entry.id).sort()).toEqual(['acct-6', 'acct-7']);
      const rows = await storedRows(database);
      expect(rows['acct-9']).toEqual({
        id: 'acct-9',
        email: 'alice@example.com',
        email_skeleton: emailSkeleton('alice@example.com'),
      });
      expect(rows['acct-4']).toMatchObject({ email: 'strasse.two@example.com' });
      expect(rows['acct-4'].email_skeleton).not.toBeNull();
    });

    it('normalises more rows than one update statement takes', async () => {
      const { database } = harness;
      const count = 1201;
      const rows = Array.from({ length: count }, (_, i) => ({
        id: `bulk-${String(i).padStart(4, '0')}`,
        email: `ｂｕｌｋ${i}@example.com`,
        display_name: null,
        password_hash: passwordHash,
        created_at: new Date(Date.UTC(2025, 1, 1) + i).toISOString(),
      }));
      for (let start = 0; start < count; start += 400) {
        await usersDb(database)
          .insertInto('users')
          .values(rows.slice(start, start + 400) as never)
          .execute();
      }
      await migrateToLatest(database.db, database.kind);
      const stored = await storedRows(database);
      for (const [i, row] of rows.entries()) {
        expect(stored[row.id]).toEqual({
          id: row.id,
          email: `bulk${i}@example.com`,
          email_skeleton: emailSkeleton(`bulk${i}@example.com`),
        });
      }
    });

    it('is harmless to run again, and finds nothing to do on a database that needs none', async () => {
      const { database } = harness;
      await migrateToLatest(database.db, database.kind);
      const first = await storedRows(database);
      await normaliseStoredEmails(database.db);
      await migrateToLatest(database.db, database.kind);
      expect(await storedRows(database)).toEqual(first);
    });
  });
}

migrationSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fpa-email-migration-'));
  const database = openDatabase(`sqlite:${join(dir, 'users.db')}`);
  return {
    database,
    close: async () => {
      await database.db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeWithPostgres('email normalisation migration (PostgreSQL)', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl, 'fpa_email_migration');

  afterAll(() => databases.dropAll());

  migrationSuite('PostgreSQL', async () => {
    const { name, url } = await databases.create();
    const database = openDatabase(url);
    return {
      database,
      close: async () => {
        await database.db.destroy();
        await databases.drop(name);
      },
    };
  });
});

describe('the service started on a database from before normalisation (e2e, port 7820)', () => {
  it('migrates it, warns with the ids of the rows it left, and logs the migrated ones in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpa-email-start-'));
    try {
      const path = join(dir, 'users.db');
      const database = openDatabase(`sqlite:${path}`);
      await seedOldSchema(database, await new PasswordHasher().hash(PASSWORD));
      await database.db.destroy();

      const service = await startService(
        {
          DATABASE_URL: `sqlite:${path}`,
          JWT_SECRET: TEST_SECRET,
          COOKIE_SECURE: 'false',
          GEOIP: 'off',
        },
        7820,
      );
      try {
        const output = service.output();
        const warning = output.split('\n').find((line) => line.includes('kept the email they had'));
        expect(warning).toBeDefined();
        for (const row of OLD_ROWS) {
          if ('left' in row) expect(warning).toContain(row.id);
          expect(output).not.toContain(row.email);
        }
        const login = (email: string) =>
          fetch(`${service.url}/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email, password: PASSWORD }),
          });
        expect((await login('ＢＯＢ@example.com')).status).toBe(200);
        expect((await login('kai@xn--bcher-kva.de')).status).toBe(200);
        expect((await login('ѕсоре@example.com')).status).toBe(200);
      } finally {
        await service.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
