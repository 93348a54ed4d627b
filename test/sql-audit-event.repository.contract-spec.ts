import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlAuditEventRepository } from '../src/audit/stores/sql/sql-audit-event.repository';
import { AUDIT_MIGRATIONS } from '../src/audit/stores/sql/sql-audit.schema';
import { openDatabase, SqlDatabase } from '../src/database/database';
import { runMigrations } from '../src/database/migrations';
import { auditEventRepositoryContract } from './contracts/audit-event-repository.contract';
import { ThrowawayDatabases } from './support/postgres';
import { describeWithPostgres } from './support/services';

describe('SqlAuditEventRepository on SQLite', () => {
  let dir: string;
  let database: SqlDatabase;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-sql-audit-'));
    database = openDatabase(`sqlite:${join(dir, 'audit.db')}`);
    await runMigrations(database.db, database.kind, AUDIT_MIGRATIONS);
  });

  afterAll(async () => {
    await database.db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  auditEventRepositoryContract('SqlAuditEventRepository (SQLite)', async () => ({
    repository: new SqlAuditEventRepository(database),
    close: async () => undefined,
  }));
});

describeWithPostgres('SqlAuditEventRepository on PostgreSQL', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl);
  let database: SqlDatabase;

  beforeAll(async () => {
    const { url } = await databases.create();
    database = openDatabase(url);
    await runMigrations(database.db, database.kind, AUDIT_MIGRATIONS);
  });

  afterAll(async () => {
    await database.db.destroy();
    await databases.dropAll();
  });

  auditEventRepositoryContract('SqlAuditEventRepository (PostgreSQL)', async () => ({
    repository: new SqlAuditEventRepository(database),
    close: async () => undefined,
  }));
});
