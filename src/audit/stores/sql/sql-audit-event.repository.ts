import { Insertable, Kysely, Selectable } from 'kysely';
import { StoreUnavailableError } from '../../../common/errors';
import { SqlDatabase } from '../../../database/database';
import type { GeoLocation } from '../../../geoip/geo-location';
import { AuditDetail, AuditEvent, AuditEventType } from '../../audit-event';
import { AuditEventRepository } from '../../audit-event.repository';
import type { SweepResult } from '../../../common/sweep';
import { deleteOldest } from '../../../database/delete-oldest';
import { auditDb, AuditEventsTable, AuditSchema } from './sql-audit.schema';

/** Rows per INSERT: well under SQLite's and PostgreSQL's bound-parameter limits (10 per row). */
const INSERT_CHUNK = 500;

/** Audit events in the SQL database `databaseUrl` names (SQLite or PostgreSQL), one Kysely adapter. */
export class SqlAuditEventRepository extends AuditEventRepository {
  private readonly db: Kysely<AuditSchema>;

  constructor(database: SqlDatabase) {
    super();
    this.db = auditDb(database);
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.guard(async () => {
      for (let start = 0; start < events.length; start += INSERT_CHUNK) {
        await this.db
          .insertInto('audit_events')
          .values(events.slice(start, start + INSERT_CHUNK).map(toRow))
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
      }
    });
  }

  async listByUser(userId: string, limit: number, before?: string): Promise<AuditEvent[]> {
    const rows = await this.guard(() => {
      let query = this.db
        .selectFrom('audit_events')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('id', 'desc')
        .limit(limit);
      if (before !== undefined) query = query.where('id', '<', before);
      return query.execute();
    });
    return rows.map(toEvent);
  }

  async deleteOlderThan(cutoffMs: number, max: number): Promise<SweepResult> {
    const due = {
      table: 'audit_events',
      key: 'id',
      column: 'at',
      op: '<',
      value: cutoffMs,
    } as const;
    return this.guard(() => deleteOldest(this.db, due, max));
  }

  async deleteForUser(userId: string): Promise<number> {
    const result = await this.guard(() =>
      this.db.deleteFrom('audit_events').where('user_id', '=', userId).executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new StoreUnavailableError('audit', error);
    }
  }
}

function toRow(event: AuditEvent): Insertable<AuditEventsTable> {
  return {
    id: event.id,
    user_id: event.userId,
    type: event.type,
    at: event.at,
    session_id: event.sessionId,
    actor_session_id: event.actorSessionId,
    ip_address: event.ipAddress,
    user_agent: event.userAgent,
    location: event.location === null ? null : JSON.stringify(event.location),
    detail: event.detail === null ? null : JSON.stringify(event.detail),
  };
}

function toEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: row.id,
    userId: row.user_id,
    type: row.type as AuditEventType,
    at: Number(row.at),
    sessionId: row.session_id,
    actorSessionId: row.actor_session_id,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    location: row.location === null ? null : (JSON.parse(row.location) as GeoLocation),
    detail: row.detail === null ? null : (JSON.parse(row.detail) as AuditDetail),
  };
}
