import { Kysely, sql } from 'kysely';
import type { SweepResult } from '../common/sweep';

/** Which rows are due: `column op value`, e.g. `expires_at <= now`. */
export interface DueRows {
  readonly table: string;
  /** The table's key, by which the chosen rows are deleted. */
  readonly key: string;
  /** An indexed column: the batch is a range of its index, oldest first, never a table scan. */
  readonly column: string;
  readonly op: '<' | '<=';
  readonly value: number;
}

/**
 * Deletes up to `max` due rows, those with the smallest `column` first, in one short statement on
 * SQLite and PostgreSQL alike. The condition is checked again on each row deleted, so a row made
 * live again between the choice and the delete (a counter restarted, on PostgreSQL) is kept.
 * Call again while `more` is true.
 */
export async function deleteOldest(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any feature's table
  db: Kysely<any>,
  due: DueRows,
  max: number,
): Promise<SweepResult> {
  const table = sql.table(due.table);
  const key = sql.ref(due.key);
  const column = sql.ref(due.column);
  const op = sql.raw(due.op);
  const result = await sql`
    delete from ${table}
    where ${key} in (
      select ${key} from ${table} where ${column} ${op} ${due.value} order by ${column} limit ${max}
    )
    and ${column} ${op} ${due.value}`.execute(db);
  const removed = Number(result.numAffectedRows ?? 0);
  return { removed, more: removed >= max };
}
