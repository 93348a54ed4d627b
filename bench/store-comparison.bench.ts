import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeEqual } from '../src/common/hashes';
import { openDatabase, SqlDatabase } from '../src/database/database';
import { runMigrations } from '../src/database/migrations';
import { createRedisClient, RedisClient, waitUntilReady } from '../src/redis/redis-client';
import { NewSession, SessionPolicy } from '../src/sessions/session';
import { SessionRepository } from '../src/sessions/session.repository';
import { InMemorySessionRepository } from '../src/sessions/stores/memory/in-memory-session.repository';
import { RedisSessionRepository } from '../src/sessions/stores/redis/redis-session.repository';
import { SqlSessionRepository } from '../src/sessions/stores/sql/sql-session.repository';
import { SESSION_MIGRATIONS } from '../src/sessions/stores/sql/sql-session.schema';
import { BenchContext } from './lib/context';
import { table } from './lib/markdown';
import { OffsetClock } from './lib/offset-clock';
import { benchPostgresServer, createBenchDatabase } from './lib/postgres';
import { SessionFixtures } from './lib/session-fixtures';
import { formatNumber, median } from './lib/stats';

/** One store's figures: creates, the guard's lookup + validate, and the sweep, per session. */
export interface StoreRow {
  readonly store: string;
  readonly available: boolean;
  readonly note: string;
  readonly createUs: number;
  /** One lookup + validate at a time: the latency a guarded request pays. */
  readonly validateUs: number;
  /** Lookups + validates per second with `IN_FLIGHT` at once (what a busy instance asks of it). */
  readonly validatePerSec: number;
  /** Sweep time per expired session removed; NaN where the store expires sessions by itself. */
  readonly cleanupUs: number;
}

const PER_USER = 10;
const IN_FLIGHT = 32;
const POLICY: SessionPolicy = {
  idleTtl: 1800,
  absoluteTtl: 28800,
  maxPerUser: PER_USER,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

interface OpenStore {
  readonly repository: SessionRepository;
  readonly clock: OffsetClock;
  readonly sweeps: boolean;
  close(): Promise<void>;
}

/**
 * Part 2b: the four session stores side by side, in this process, the same sessions and the same
 * operations: memory, Redis, PostgreSQL and SQLite (a file, WAL). What the seed design's
 * comparison table asks: validate (the guard's lookup and checks) and cleanup per entry.
 */
export async function storeComparison(
  context: BenchContext,
): Promise<{ rows: StoreRow[]; markdown: string }> {
  const sessions = context.mode === 'quick' ? 2_000 : 20_000;
  const lookups = context.mode === 'quick' ? 2_000 : 20_000;
  const rows: StoreRow[] = [];
  const candidates: Array<[string, () => Promise<OpenStore | string>]> = [
    ['memory', async () => openMemory(sessions)],
    ['Redis', () => openRedis(context)],
    ['PostgreSQL', () => openPostgres()],
    ['SQLite (file, WAL)', () => openSqlite()],
  ];
  for (const [store, open] of candidates) {
    const opened = await open();
    if (typeof opened === 'string') {
      rows.push({
        store,
        available: false,
        note: opened,
        createUs: NaN,
        validateUs: NaN,
        validatePerSec: NaN,
        cleanupUs: NaN,
      });
      continue;
    }
    try {
      context.log(`part 2b: ${store}: ${sessions} sessions`);
      rows.push({
        store,
        available: true,
        note: '',
        ...(await measure(opened, sessions, lookups)),
      });
    } finally {
      await opened.close();
    }
  }
  return { rows, markdown: render(rows, sessions, lookups) };
}

async function measure(
  { repository, clock, sweeps }: OpenStore,
  count: number,
  lookups: number,
): Promise<Omit<StoreRow, 'store' | 'available' | 'note'>> {
  const fixtures = new SessionFixtures(PER_USER);
  const inputs: NewSession[] = Array.from({ length: count }, () => fixtures.next());
  let started = process.hrtime.bigint();
  for (const input of inputs) await repository.create(input);
  const createUs = Number(process.hrtime.bigint() - started) / 1000 / count;

  const validate = async (i: number): Promise<void> => {
    const input = inputs[(i * 7919) % count];
    const session = await repository.findById(input.id);
    if (
      session === null ||
      session.userId !== input.userId ||
      !safeEqual(session.fingerprintHash, input.fingerprintHash)
    ) {
      throw new Error(`session ${input.id} failed validation`);
    }
  };
  const sequential: number[] = [];
  for (let round = 0; round < 3; round++) {
    started = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++) await validate(i);
    sequential.push(Number(process.hrtime.bigint() - started) / 1000 / lookups);
  }
  const concurrent: number[] = [];
  for (let round = 0; round < 3; round++) {
    let next = 0;
    started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < lookups) await validate(next++);
      }),
    );
    concurrent.push(lookups / (Number(process.hrtime.bigint() - started) / 1e9));
  }

  let cleanupUs = NaN;
  if (sweeps) {
    clock.offsetMs += (POLICY.idleTtl + 60) * 1000;
    let removed = 0;
    started = process.hrtime.bigint();
    for (let more = true; more;) {
      const result = await repository.deleteExpired(2000);
      removed += result.removed;
      more = result.more;
    }
    const elapsed = Number(process.hrtime.bigint() - started) / 1000;
    if (removed !== count) throw new Error(`the sweep removed ${removed} of ${count} sessions`);
    cleanupUs = elapsed / removed;
  }
  return {
    createUs,
    validateUs: median(sequential),
    validatePerSec: median(concurrent),
    cleanupUs,
  };
}

function openMemory(count: number): OpenStore {
  const clock = new OffsetClock();
  return {
    repository: new InMemorySessionRepository(POLICY, count * 2, clock),
    clock,
    sweeps: true,
    close: async () => undefined,
  };
}

async function openRedis(context: BenchContext): Promise<OpenStore | string> {
  if (!context.redisUrl) return 'no Redis URL (set BENCH_REDIS_URL or REDIS_URL_TEST)';
  const client: RedisClient = createRedisClient(context.redisUrl, { commandTimeoutMs: 5000 });
  client.on('error', () => undefined);
  if (!(await waitUntilReady(client, 3000))) {
    client.disconnect();
    return `Redis at ${context.redisUrl} did not answer`;
  }
  const clock = new OffsetClock();
  return {
    repository: new RedisSessionRepository(client, POLICY, clock, `${context.redisPrefix}cmp:`),
    clock,
    // Keys expire by themselves; there is nothing to sweep.
    sweeps: false,
    close: async () => void (await client.quit()),
  };
}

async function openSql(database: SqlDatabase, close: () => Promise<void>): Promise<OpenStore> {
  await runMigrations(database.db, database.kind, SESSION_MIGRATIONS);
  const clock = new OffsetClock();
  return {
    repository: new SqlSessionRepository(database, POLICY, clock),
    clock,
    sweeps: true,
    close: async () => {
      await database.db.destroy();
      await close();
    },
  };
}

async function openPostgres(): Promise<OpenStore | string> {
  const created = await createBenchDatabase(benchPostgresServer());
  if (created.database === null) return created.reason;
  const { database } = created;
  return openSql(openDatabase(database.url), () => database.drop());
}

async function openSqlite(): Promise<OpenStore> {
  const dir = mkdtempSync(join(tmpdir(), 'fpa-bench-sqlite-'));
  return openSql(openDatabase(`sqlite:${join(dir, 'sessions.db')}`), async () =>
    rmSync(dir, { recursive: true, force: true }),
  );
}

function render(rows: StoreRow[], sessions: number, lookups: number): string {
  const out: string[] = [];
  out.push('## 2b. The session stores side by side');
  out.push('');
  out.push(
    `Each store in this process (bench/store-comparison.bench.ts): ${sessions.toLocaleString('en-US')} sessions ` +
      `(${PER_USER} per user) created one at a time, then ${lookups.toLocaleString('en-US')} lookups + validations ` +
      '(find by id, same owner, fingerprint hash compared in constant time) one at a time (the latency a request waits) ' +
      `and ${IN_FLIGHT} at once (what a busy instance gets from it), median of 3 rounds; then every session expired ` +
      'and swept in batches of 2,000. Redis, PostgreSQL and SQLite on this machine, over loopback.',
  );
  out.push('');
  out.push(
    table(
      [
        'store',
        'create µs',
        'validate µs (one at a time)',
        `validations/s (${IN_FLIGHT} in flight)`,
        'cleanup µs per entry',
      ],
      rows.map((row) =>
        row.available
          ? [
              row.store,
              formatNumber(row.createUs),
              formatNumber(row.validateUs),
              formatNumber(row.validatePerSec),
              Number.isNaN(row.cleanupUs)
                ? 'none: keys expire by themselves'
                : formatNumber(row.cleanupUs),
            ]
          : [row.store, `not measured: ${row.note}`, '', '', ''],
      ),
    ),
  );
  return out.join('\n');
}
