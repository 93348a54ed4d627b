import { Kysely, sql } from 'kysely';
import { emailSkeleton, normaliseEmail } from '../email-address';
import { EmailNotAcceptedError } from '../user.errors';

/** A stored account whose email could not be brought to the normalised form. */
export interface UnresolvedEmail {
  readonly id: string;
  /**
   * `lookalike`: the email is normalised but its skeleton is another account's (it still logs in);
   * `collides`: its normalised email is, or looks like, another account's (it cannot log in);
   * `not_acceptable`: the email breaks the email rules (it cannot log in).
   */
  readonly reason: 'lookalike' | 'collides' | 'not_acceptable';
  /** The account it collides with (never its email). */
  readonly conflictsWith?: string;
  /** Which rule a `not_acceptable` email breaks. */
  readonly detail?: string;
}

interface PendingRow {
  readonly id: string;
  readonly email: string;
}

type Plan =
  | { readonly row: PendingRow; readonly email: string; readonly skeleton: string }
  | { readonly row: PendingRow; readonly problem: string };

/** Rows updated per statement. */
const BATCH = 500;

/**
 * Brings every stored email without a skeleton (rows from before the skeleton existed) to the
 * normalised form and fills in its skeleton, except where that would collide: such rows keep their
 * email and a null skeleton (the unique index allows any number of nulls) and are returned. Rows
 * already in normal form claim their email and skeleton first (they need no change), then the
 * others, oldest first. Run by the migration that added the skeleton and again at every start, so
 * rows whose conflict has been resolved since are normalised then.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- runs inside migrations (any schema)
export async function normaliseStoredEmails(db: Kysely<any>): Promise<UnresolvedEmail[]> {
  const pending: PendingRow[] = await db
    .selectFrom('users')
    .select(['id', 'email'])
    .where('email_skeleton', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  if (pending.length === 0) return [];
  // Rows normalised earlier (by this pass or at registration) hold emails and skeletons too.
  const { resolved } = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number | string>().as('resolved'))
    .where('email_skeleton', 'is not', null)
    .executeTakeFirstOrThrow();
  const checkResolved = Number(resolved) > 0;

  const plans: Plan[] = pending.map((row) => {
    try {
      const email = normaliseEmail(row.email);
      return { row, email, skeleton: emailSkeleton(email) };
    } catch (error) {
      if (error instanceof EmailNotAcceptedError) return { row, problem: error.message };
      throw error;
    }
  });
  const unresolved: UnresolvedEmail[] = [];
  const accepted: Array<{ id: string; email: string; skeleton: string }> = [];
  // Every pending row's current email stays taken unless that row itself moves away from it; a row
  // may move only to an email no pending row holds now, so no update ever meets a unique index.
  const heldBy = new Map(pending.map((row) => [row.email, row.id]));
  const emailClaims = new Map<string, string>();
  const skeletonClaims = new Map<string, string>();
  const unchanged = plans.filter((plan) => 'email' in plan && plan.email === plan.row.email);
  const changed = plans.filter((plan) => 'email' in plan && plan.email !== plan.row.email);
  for (const plan of [...unchanged, ...changed]) {
    if (!('email' in plan)) continue;
    const { row, email, skeleton } = plan;
    const moves = email !== row.email;
    const emailHolder = emailClaims.get(email) ?? (moves ? heldBy.get(email) : undefined);
    const skeletonHolder = skeletonClaims.get(skeleton);
    let conflict = emailHolder ?? skeletonHolder;
    if (conflict === undefined && checkResolved) {
      conflict = await resolvedHolder(db, row.id, email, skeleton);
    }
    if (conflict !== undefined) {
      unresolved.push({
        id: row.id,
        reason: moves ? 'collides' : 'lookalike',
        conflictsWith: conflict,
      });
      continue;
    }
    emailClaims.set(email, row.id);
    skeletonClaims.set(skeleton, row.id);
    accepted.push({ id: row.id, email, skeleton });
  }
  for (const plan of plans) {
    if ('problem' in plan) {
      unresolved.push({ id: plan.row.id, reason: 'not_acceptable', detail: plan.problem });
    }
  }
  for (let start = 0; start < accepted.length; start += BATCH) {
    await updateBatch(db, accepted.slice(start, start + BATCH));
  }
  return unresolved;
}

/** Another account already normalised that holds this email or skeleton, if any. */
async function resolvedHolder(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see normaliseStoredEmails
  db: Kysely<any>,
  id: string,
  email: string,
  skeleton: string,
): Promise<string | undefined> {
  const holder = await db
    .selectFrom('users')
    .select('id')
    .where('id', '<>', id)
    .where((eb) => eb.or([eb('email', '=', email), eb('email_skeleton', '=', skeleton)]))
    .executeTakeFirst();
  return holder?.id as string | undefined;
}

async function updateBatch(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see normaliseStoredEmails
  db: Kysely<any>,
  rows: ReadonlyArray<{ id: string; email: string; skeleton: string }>,
): Promise<void> {
  const emailCases = sql.join(
    rows.map((row) => sql`when ${row.id} then ${row.email}`),
    sql` `,
  );
  const skeletonCases = sql.join(
    rows.map((row) => sql`when ${row.id} then ${row.skeleton}`),
    sql` `,
  );
  await db
    .updateTable('users')
    .set({
      email: sql`case id ${emailCases} end`,
      email_skeleton: sql`case id ${skeletonCases} end`,
    })
    .where(
      'id',
      'in',
      rows.map((row) => row.id),
    )
    .execute();
}

/**
 * The start-up warning about accounts left unnormalised: their ids and reasons (never their
 * emails) and how to resolve them; null when there are none.
 */
export function unresolvedEmailsWarning(unresolved: readonly UnresolvedEmail[]): string | null {
  if (unresolved.length === 0) return null;
  const listed = unresolved
    .map((entry) => {
      switch (entry.reason) {
        case 'lookalike':
          return `${entry.id} (looks like account ${entry.conflictsWith}; still logs in)`;
        case 'collides':
          return `${entry.id} (normalises to the email of account ${entry.conflictsWith}; cannot log in)`;
        case 'not_acceptable':
          return `${entry.id} (${entry.detail}; cannot log in)`;
        default: {
          const unknown: never = entry.reason;
          return `${entry.id} (${String(unknown)})`;
        }
      }
    })
    .join(', ');
  return (
    `${unresolved.length} account(s) kept the email they had before email normalisation, without ` +
    `a lookalike check: ${listed}. Resolve each by deleting one of the two accounts or giving it a distinct email ` +
    `(UPDATE users SET email = '<new address>' WHERE id = '<id>'); the next start normalises what no ` +
    `longer collides and lists what is left.`
  );
}
