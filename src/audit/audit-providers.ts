import { Provider } from '@nestjs/common';
import { SqlDatabase } from '../database/database';
import { SQL_DATABASE } from '../database/database-connection';
import { runMigrations } from '../database/migrations';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { AuditEventRepository } from './audit-event.repository';
import { AUDIT_EVENTS, AuditTrail } from './audit-trail';
import { SqlAuditEventRepository } from './stores/sql/sql-audit-event.repository';
import { AUDIT_MIGRATIONS } from './stores/sql/sql-audit.schema';

/** The audit-event store in the module's database (tables migrated first), or null when off. */
export async function auditEventsFactory(
  config: FingerprintAuthConfig,
  database: SqlDatabase | null,
): Promise<AuditEventRepository | null> {
  if (!config.auditTrail) return null;
  if (database === null) throw new Error('the audit trail needs the database');
  await runMigrations(database.db, database.kind, AUDIT_MIGRATIONS);
  return new SqlAuditEventRepository(database);
}

export const auditProviders: Provider[] = [
  {
    provide: AUDIT_EVENTS,
    inject: [FingerprintAuthConfig, SQL_DATABASE],
    useFactory: auditEventsFactory,
  },
  AuditTrail,
];
