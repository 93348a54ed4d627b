import type BetterSqlite3 from 'better-sqlite3';
import { Insertable, Kysely, Selectable, sql, Transaction } from 'kysely';
import { Clock } from '../../../common/clock';
import { DomainError, StoreUnavailableError } from '../../../common/errors';
import { DatabaseKind, SqlDatabase } from '../../../database/database';
import { deleteOldest } from '../../../database/delete-oldest';
import type { GeoLocation } from '../../../geoip/geo-location';
import {
  activityAt,
  expiresAt,
  isLive,
  NewSession,
  Session,
  SessionPolicy,
  startedSession,
  toSeconds,
} from '../../session';
import { SessionLimitReachedError } from '../../session.errors';
import {
  CreateSessionResult,
  ImportOutcome,
  RefreshOutcome,
  RefreshRotation,
  SessionRepository,
  SessionStoreStats,
  SweepResult,
  isRepeatedRotation,
} from '../../session.repository';
import { sessionsDb, SessionsSchema, SessionsTable } from './sql-session.schema';

type Row = Selectable<SessionsTable>;

/** Every column of the table, in its order. */
const SESSION_COLUMNS = [
  'id',
  'user_id',
  'fingerprint_hash',
  'refresh_hash',
  'previous_refresh_hash',
  'refresh_rotated_at',
  'ip_address',
  'user_agent',
  'location',
  'login_ip_address',
  'login_user_agent',
  'created_at',
  'last_activity',
  'idle_expires_at',
  'absolute_expires_at',
  'expires_at',
] as const satisfies readonly (keyof SessionsTable)[];
type Db = Kysely<SessionsSchema>;

/** Sessions read per query while exporting. */
const EXPORT_BATCH = 1000;
/** `stats()` counts expired sessions up to this many (through the expiry index), no further. */
const EXPIRED_COUNT_LIMIT = 10_000;

/**
 * Sessions in the SQL database `databaseUrl` names (PostgreSQL or SQLite), through the same
 * Kysely queries on both: a row per session keyed by id, with indexes by user and by expiry.
 *
 * - Reads (`findById`, the guard's one query) and `touch` are single statements; a session is
 *   live when `expires_at` (the sooner of its idle and absolute expiry) is still ahead.
 * - Writes that read first (`create` with the per-user limit, `rotateRefresh`) run in one
 *   transaction that holds the user's lock: on PostgreSQL an advisory transaction lock on the
 *   user (so instances sharing the database serialise logins of one account, and nothing else)
 *   and the session's row lock; on SQLite `BEGIN IMMEDIATE`, the database's write lock, which
 *   other processes on the same file wait for (`busy_timeout`).
 * - The sweep deletes expired rows in bounded batches in expiry order, through the index.
 *
 * Every failure of the database surfaces as `StoreUnavailableError` (the routes answer 503).
 */
export class SqlSessionRepository extends SessionRepository {
  readonly durable = true;
  private readonly db: Db;
  private readonly kind: DatabaseKind;
  /** The guard's query, prepared once (see `findById`). */
  private readonly findLivePrepared: (id: string, now: number) => Promise<Row[]>;

  constructor(
    database: SqlDatabase,
    private readonly policy: SessionPolicy,
    private readonly clock: Clock,
  ) {
    super();
    this.db = sessionsDb(database);
    this.kind = database.kind;
    // Every column named (not `*`): a prepared statement whose result columns changed (a later
    // migration adding one) would fail on connections that prepared it before.
    const text = this.db
      .selectFrom('sessions')
      .select(SESSION_COLUMNS)
      .where('id', '=', '')
      .where('expires_at', '>', 0)
      .compile().sql;
    const { driver } = database;
    this.findLivePrepared =
      driver.kind === 'postgres'
        ? async (id, now) =>
            (
              await driver.pool.query<Row>({
                name: 'fpa_find_live_session',
                text,
                values: [id, now],
              })
            ).rows
        : this.sqliteFindLive(driver.connection, text);
  }

  /**
   * The guard's query on SQLite as one better-sqlite3 statement, prepared on first use (Kysely
   * prepares every query anew, which is most of its cost here). It runs under Kysely's lock on
   * the connection, so never inside another caller's open transaction.
   */
  private sqliteFindLive(
    connection: BetterSqlite3.Database,
    text: string,
  ): (id: string, now: number) => Promise<Row[]> {
    let statement: BetterSqlite3.Statement<[string, number], Row> | null = null;
    return (id, now) =>
      this.db.connection().execute(async () => {
        statement ??= connection.prepare<[string, number], Row>(text);
        return statement.all(id, now);
      });
  }

  async create(input: NewSession): Promise<CreateSessionResult> {
    const now = this.now();
    const { maxPerUser, limitPolicy } = this.policy;
    const session = startedSession(input, now, this.policy);
    return this.inWriteTransaction(async (trx) => {
      await this.lockUser(trx, input.userId);
      const live = (
        await trx
          .selectFrom('sessions')
          .selectAll()
          .where('user_id', '=', input.userId)
          .where('expires_at', '>', now)
          .execute()
      ).map(toSession);
      let evicted: Session[] = [];
      if (live.length >= maxPerUser) {
        if (limitPolicy === 'reject') throw new SessionLimitReachedError(maxPerUser);
        live.sort((a, b) => a.lastActivity - b.lastActivity || a.createdAt - b.createdAt);
        evicted = live.slice(0, live.length - maxPerUser + 1);
        await trx
          .deleteFrom('sessions')
          .where(
            'id',
            'in',
            evicted.map((s) => s.id),
          )
          .execute();
      }
      await trx.insertInto('sessions').values(toRow(session)).execute();
      return { session, evicted };
    });
  }

  /**
   * The guard's one query, prepared once: on PostgreSQL a named prepared statement (each
   * connection parses and plans it once, then only binds and runs it; the pool's timeouts apply,
   * and a connection whose query failed is closed, as on Kysely's path); on SQLite one cached
   * better-sqlite3 statement (`sqliteFindLive`).
   */
  async findById(id: string): Promise<Session | null> {
    const rows = await this.guard(() => this.findLivePrepared(id, this.now()));
    return rows.length === 0 ? null : toSession(rows[0]);
  }

  async listByUser(userId: string): Promise<Session[]> {
    const rows = await this.guard(() =>
      this.db
        .selectFrom('sessions')
        .selectAll()
        .where('user_id', '=', userId)
        .where('expires_at', '>', this.now())
        .execute(),
    );
    return rows.map(toSession);
  }

  /**
   * One UPDATE: the new idle expiry is capped at the absolute one in SQL, and the login's IP
   * address and user agent are kept (once) when they change; SET reads the row as it was.
   */
  async touch(id: string, ipAddress: string, userAgent: string): Promise<void> {
    const now = this.now();
    const slid = now + this.policy.idleTtl;
    const capped = sql<number>`case when ${slid} < absolute_expires_at then ${slid} else absolute_expires_at end`;
    // Activity only moves forward: a touch that commits after a later one (pool connections race,
    // or an instance's clock is behind) keeps the later time and expiry.
    const later = (column: 'idle_expires_at' | 'expires_at') =>
      sql<number>`case when ${capped} > ${sql.ref(column)} then ${capped} else ${sql.ref(column)} end`;
    await this.guard(() =>
      this.db
        .updateTable('sessions')
        .set({
          last_activity: sql<number>`case when last_activity < ${now} then ${now} else last_activity end`,
          idle_expires_at: later('idle_expires_at'),
          expires_at: later('expires_at'),
          login_ip_address: sql<
            string | null
          >`case when ip_address <> ${ipAddress} then coalesce(login_ip_address, ip_address) else login_ip_address end`,
          ip_address: ipAddress,
          login_user_agent: sql<
            string | null
          >`case when user_agent <> ${userAgent} then coalesce(login_user_agent, user_agent) else login_user_agent end`,
          user_agent: userAgent,
        })
        .where('id', '=', id)
        .where('expires_at', '>', now)
        .execute(),
    );
  }

  async rotateRefresh(id: string, rotation: RefreshRotation): Promise<RefreshOutcome> {
    const now = this.now();
    return this.inWriteTransaction(async (trx): Promise<RefreshOutcome> => {
      let query = trx
        .selectFrom('sessions')
        .selectAll()
        .where('id', '=', id)
        .where('expires_at', '>', now);
      if (this.kind === 'postgres') query = query.forUpdate();
      const row = await query.executeTakeFirst();
      if (row === undefined) return { kind: 'invalid' };
      const stored = toSession(row);
      const { fingerprintHash, refreshHash, previousRefreshHash } = stored;
      if (isRepeatedRotation(rotation, fingerprintHash, refreshHash, previousRefreshHash)) {
        return { kind: 'rotated', session: stored };
      }
      if (stored.refreshHash === rotation.presentedHash) {
        const session = withActivity(
          {
            ...stored,
            fingerprintHash: rotation.nextFingerprintHash,
            refreshHash: rotation.nextRefreshHash,
            previousRefreshHash: stored.refreshHash,
            refreshRotatedAt: now,
            location: rotation.location !== undefined ? rotation.location : stored.location,
          },
          now,
          this.policy.idleTtl,
          rotation.ipAddress,
          rotation.userAgent,
        );
        const { id: _id, user_id: _user, created_at: _created, ...changed } = toRow(session);
        await trx.updateTable('sessions').set(changed).where('id', '=', id).execute();
        return { kind: 'rotated', session };
      }
      if (
        stored.previousRefreshHash !== null &&
        stored.previousRefreshHash === rotation.presentedHash
      ) {
        if (now - stored.refreshRotatedAt <= this.policy.refreshGracePeriod) {
          return { kind: 'grace', session: stored };
        }
        await trx.deleteFrom('sessions').where('id', '=', id).execute();
        return { kind: 'reused', session: stored };
      }
      return { kind: 'invalid' };
    });
  }

  async revoke(id: string, userId: string): Promise<Session | null> {
    const row = await this.guard(() =>
      this.db
        .deleteFrom('sessions')
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .returningAll()
        .executeTakeFirst(),
    );
    if (row === undefined) return null;
    const session = toSession(row);
    return isLive(session, this.now()) ? session : null;
  }

  async revokeAllForUser(userId: string, exceptId?: string): Promise<number> {
    const now = this.now();
    const rows = await this.guard(() => {
      let query = this.db.deleteFrom('sessions').where('user_id', '=', userId);
      if (exceptId !== undefined) query = query.where('id', '<>', exceptId);
      return query.returning('expires_at').execute();
    });
    return rows.filter((row) => Number(row.expires_at) > now).length;
  }

  /** Deletes up to `max` of the sessions that expired first: a range of the expiry index. */
  async deleteExpired(max: number): Promise<SweepResult> {
    const due = {
      table: 'sessions',
      key: 'id',
      column: 'expires_at',
      op: '<=',
      value: this.now(),
    } as const;
    return this.guard(() => deleteOldest(this.db, due, max));
  }

  /**
   * Answers only when the database does (readiness). Counting every row would scan the table, so
   * `stored` is unknown; expired sessions waiting for the sweep are counted through the expiry
   * index, up to `EXPIRED_COUNT_LIMIT`.
   */
  async stats(): Promise<SessionStoreStats> {
    const now = this.now();
    const row = await this.guard(() =>
      this.db
        .selectFrom((eb) =>
          eb
            .selectFrom('sessions')
            .select('id')
            .where('expires_at', '<=', now)
            .limit(EXPIRED_COUNT_LIMIT)
            .as('due'),
        )
        .select((eb) => eb.fn.countAll().as('count'))
        .executeTakeFirstOrThrow(),
    );
    return { stored: null, expired: Number(row.count), capacity: null, estimatedBytes: null };
  }

  /** Every stored session, expired ones not yet swept included, in pages by id. */
  async *exportAll(): AsyncIterableIterator<Session> {
    let after: string | null = null;
    for (;;) {
      const from: string | null = after;
      const rows: Row[] = await this.guard(() => {
        let query = this.db.selectFrom('sessions').selectAll().orderBy('id').limit(EXPORT_BATCH);
        if (from !== null) query = query.where('id', '>', from);
        return query.execute();
      });
      for (const row of rows) yield toSession(row);
      if (rows.length < EXPORT_BATCH) return;
      after = rows[rows.length - 1].id;
    }
  }

  async importSession(session: Session): Promise<ImportOutcome> {
    if (!isLive(session, this.now())) return 'expired';
    // No shard check: the database finds any id (only a Redis Cluster needs ids with shards).
    const result = await this.guard(() =>
      this.db
        .insertInto('sessions')
        .values(toRow(session))
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0 ? 'imported' : 'exists';
  }

  private now(): number {
    return toSeconds(this.clock.now());
  }

  /**
   * Runs `work` in one transaction that takes the write lock it needs up front: plain `BEGIN` on
   * PostgreSQL (the work locks what it touches), `BEGIN IMMEDIATE` on SQLite (the database's
   * write lock, so a read inside never turns into a failed upgrade). Domain errors pass through;
   * any other failure is `StoreUnavailableError`.
   */
  private async inWriteTransaction<T>(work: (trx: Db) => Promise<T>): Promise<T> {
    return this.guard(() => {
      if (this.kind === 'postgres') {
        return this.db.transaction().execute((trx: Transaction<SessionsSchema>) => work(trx));
      }
      return this.db.connection().execute(async (connection) => {
        await sql`begin immediate`.execute(connection);
        try {
          const result = await work(connection);
          await sql`commit`.execute(connection);
          return result;
        } catch (error) {
          await sql`rollback`.execute(connection).catch(() => undefined);
          throw error;
        }
      });
    });
  }

  /**
   * Serialises writes of one user's sessions until the transaction ends. PostgreSQL: an advisory
   * lock on a 64-bit hash of the user id (another user hashing alike only waits a moment).
   * SQLite: `BEGIN IMMEDIATE` holds the write lock already.
   */
  private async lockUser(trx: Db, userId: string): Promise<void> {
    if (this.kind !== 'postgres') return;
    await sql`select pg_advisory_xact_lock(hashtextextended(${`fpa:sessions:${userId}`}, 0))`.execute(
      trx,
    );
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw new StoreUnavailableError('sessions', error);
    }
  }
}

/** Activity now (`activityAt`), and a change of IP address or user agent keeps the login's
 *  values, once. */
function withActivity(
  session: Session,
  now: number,
  idleTtl: number,
  ipAddress: string,
  userAgent: string,
): Session {
  return {
    ...session,
    ...activityAt(session, now, idleTtl),
    ipAddress,
    userAgent,
    loginIpAddress:
      ipAddress !== session.ipAddress
        ? (session.loginIpAddress ?? session.ipAddress)
        : session.loginIpAddress,
    loginUserAgent:
      userAgent !== session.userAgent
        ? (session.loginUserAgent ?? session.userAgent)
        : session.loginUserAgent,
  };
}

function toRow(session: Session): Insertable<SessionsTable> {
  return {
    id: session.id,
    user_id: session.userId,
    fingerprint_hash: session.fingerprintHash,
    refresh_hash: session.refreshHash,
    previous_refresh_hash: session.previousRefreshHash,
    refresh_rotated_at: session.refreshRotatedAt,
    ip_address: session.ipAddress,
    user_agent: session.userAgent,
    location: session.location === null ? null : JSON.stringify(session.location),
    login_ip_address: session.loginIpAddress,
    login_user_agent: session.loginUserAgent,
    created_at: session.createdAt,
    last_activity: session.lastActivity,
    idle_expires_at: session.idleExpiresAt,
    absolute_expires_at: session.absoluteExpiresAt,
    expires_at: expiresAt(session),
  };
}

function toSession(row: Row): Session {
  return {
    id: row.id,
    userId: row.user_id,
    fingerprintHash: row.fingerprint_hash,
    refreshHash: row.refresh_hash,
    previousRefreshHash: row.previous_refresh_hash,
    refreshRotatedAt: Number(row.refresh_rotated_at),
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    location: row.location === null ? null : (JSON.parse(row.location) as GeoLocation),
    loginIpAddress: row.login_ip_address,
    loginUserAgent: row.login_user_agent,
    createdAt: Number(row.created_at),
    lastActivity: Number(row.last_activity),
    idleExpiresAt: Number(row.idle_expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
  };
}
