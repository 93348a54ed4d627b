import type { SweepResult } from '../common/sweep';
import { AuditEvent } from './audit-event';

/**
 * Where audit events are kept. Failures of the backing store surface as
 * `StoreUnavailableError('audit')`.
 */
export abstract class AuditEventRepository {
  /** Stores the events; an id stored already is left as it is (a retried batch is harmless). */
  abstract append(events: readonly AuditEvent[]): Promise<void>;

  /** The user's events newest first, at most `limit`, only those older than the event `before`. */
  abstract listByUser(userId: string, limit: number, before?: string): Promise<AuditEvent[]>;

  /** Removes up to `max` events recorded before `cutoffMs`; call again while `more` is true. */
  abstract deleteOlderThan(cutoffMs: number, max: number): Promise<SweepResult>;

  /** Removes every event of the user (account deleted); returns how many. */
  abstract deleteForUser(userId: string): Promise<number>;
}
