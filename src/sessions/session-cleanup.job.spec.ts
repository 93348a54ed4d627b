import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AuditTrail } from '../audit/audit-trail';
import { FakeClock } from '../common/clock';
import { ServiceConfig, validateEnv } from '../config';
import { openDatabase, SqlDatabase } from '../database/database';
import { runMigrations } from '../database/migrations';
import { InMemoryRateLimitStore } from '../rate-limit/in-memory-rate-limit.store';
import { RATE_LIMIT_MIGRATIONS, rateLimitsDb } from '../rate-limit/sql-rate-limit.schema';
import { SqlRateLimitStore } from '../rate-limit/sql-rate-limit.store';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { InMemorySessionRepository } from './stores/memory/in-memory-session.repository';
import { NewSession, SessionPolicy } from './session';
import { CLEANUP_JOB, SessionCleanupJob } from './session-cleanup.job';

const MINUTE = 60_000;
const policy: SessionPolicy = {
  idleTtl: 30 * 60,
  absoluteTtl: 8 * 3600,
  maxPerUser: 1000,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

let counter = 0;
const newSession = (userId: string): NewSession => ({
  id: `cleanup-${String(++counter).padStart(14, '0')}`,
  userId,
  fingerprintHash: 'f'.repeat(43),
  refreshHash: 'r'.repeat(43),
  ipAddress: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  location: null,
});

function configWith(overrides: Record<string, string>): ServiceConfig {
  return validateEnv({ NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:', ...overrides });
}

async function metricValue(metrics: FingerprintAuthMetrics, name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; metricName?: string }>;
  const sample = values.find((v) => v.metricName === undefined || v.metricName === name);
  return sample?.value ?? NaN;
}

describe('SessionCleanupJob', () => {
  const BATCH = 10;
  let clock: FakeClock;
  let repository: InMemorySessionRepository;
  let metrics: FingerprintAuthMetrics;
  let job: SessionCleanupJob;

  beforeEach(() => {
    Logger.overrideLogger(false);
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    repository = new InMemorySessionRepository(policy, 100_000, clock);
    metrics = new FingerprintAuthMetrics();
    job = new SessionCleanupJob(
      repository,
      metrics,
      configWith({ CLEANUP_BATCH_SIZE: String(BATCH) }),
      new AuditTrail(null, clock, metrics, configWith({ CLEANUP_BATCH_SIZE: String(BATCH) })),
      new SchedulerRegistry(),
    );
  });

  afterEach(async () => {
    await job.onModuleDestroy();
  });

  /** Sessions created now, then `aliveIds` kept active while the clock passes the idle timeout. */
  async function populate(expiring: number, staying: number) {
    const expiringIds: string[] = [];
    const stayingIds: string[] = [];
    for (let i = 0; i < expiring; i++) {
      expiringIds.push((await repository.create(newSession(`u-exp-${i % 7}`))).session.id);
    }
    for (let i = 0; i < staying; i++) {
      stayingIds.push((await repository.create(newSession(`u-live-${i % 3}`))).session.id);
    }
    clock.advance(20 * MINUTE);
    for (const id of stayingIds) await repository.touch(id, '203.0.113.7', 'Mozilla/5.0');
    clock.advance(11 * MINUTE);
    return { expiringIds, stayingIds };
  }

  it('removes exactly the expired sessions and keeps the live ones', async () => {
    const { expiringIds, stayingIds } = await populate(25, 8);
    expect((await repository.stats()).stored).toBe(33);

    expect(await job.run()).toBe(25);

    expect((await repository.stats()).stored).toBe(8);
    for (const id of stayingIds) expect(await repository.findById(id)).not.toBeNull();
    for (const id of expiringIds) expect(await repository.findById(id)).toBeNull();
    expect(await metricValue(metrics, 'fpa_cleanup_removed_sessions_total')).toBe(25);
    // A second run finds nothing left to remove.
    expect(await job.run()).toBe(0);
    expect((await repository.stats()).stored).toBe(8);
  });

  it('works in batches and lets other macrotasks run between them', async () => {
    await populate(3 * BATCH, 0);
    const events: string[] = [];
    const deleteExpired = repository.deleteExpired.bind(repository);
    jest.spyOn(repository, 'deleteExpired').mockImplementation(async (max) => {
      const result = await deleteExpired(max);
      events.push(`batch(${max}):${result.removed}`);
      return result;
    });
    // A macrotask that keeps rescheduling itself while the sweep runs: it can only interleave
    // with the batches if the job really gives the event loop back between them.
    let ticking = true;
    const tick = () => {
      if (!ticking) return;
      events.push('tick');
      setImmediate(tick);
    };
    setImmediate(tick);

    const removed = await job.run();
    ticking = false;

    expect(removed).toBe(3 * BATCH);
    const batches = events.filter((event) => event.startsWith('batch'));
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(batches.every((event) => event.startsWith(`batch(${BATCH}):`))).toBe(true);
    // Between any two batches at least one other macrotask ran.
    const positions = events.flatMap((event, index) => (event.startsWith('batch') ? [index] : []));
    for (let i = 1; i < positions.length; i++) {
      expect(events.slice(positions[i - 1] + 1, positions[i])).toContain('tick');
    }
  });

  it('never overlaps: two runs at once sweep once', async () => {
    await populate(2 * BATCH + 3, 2);
    const spy = jest.spyOn(repository, 'deleteExpired');

    const [first, second] = await Promise.all([job.run(), job.run()]);

    expect(first).toBe(2 * BATCH + 3);
    expect(second).toBe(first);
    const callsForOneSweep = spy.mock.calls.length;
    expect(callsForOneSweep).toBeGreaterThanOrEqual(3);
    expect(await metricValue(metrics, 'fpa_cleanup_removed_sessions_total')).toBe(2 * BATCH + 3);
    const duration = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'fpa_cleanup_duration_seconds',
    );
    const count = (duration?.values as Array<{ metricName?: string; value: number }>).find(
      (v) => v.metricName === 'fpa_cleanup_duration_seconds_count',
    );
    expect(count?.value).toBe(1);
    // Once the first has finished, a new run is a new sweep.
    expect(await job.run()).toBe(0);
    expect(spy.mock.calls.length).toBe(callsForOneSweep + 1);
  });

  it('logs how many it removed and how long it took', async () => {
    await populate(4, 1);
    const lines: unknown[] = [];
    Logger.overrideLogger({
      log: (message: unknown) => lines.push(message),
      error: () => undefined,
      warn: () => undefined,
    });
    try {
      await job.run();
    } finally {
      Logger.overrideLogger(false);
    }
    expect(lines).toContainEqual(
      expect.objectContaining({
        event: 'session_cleanup',
        removed: 4,
        durationMs: expect.any(Number),
      }),
    );
  });

  it('schedules itself on cleanupCron, listed in the SchedulerRegistry when the app has one', async () => {
    const registry = new SchedulerRegistry();
    const scheduled = new SessionCleanupJob(
      repository,
      metrics,
      configWith({ CLEANUP_CRON: '*/5 * * * * *' }),
      new AuditTrail(null, clock, metrics, configWith({ CLEANUP_CRON: '*/5 * * * * *' })),
      registry,
    );
    scheduled.onApplicationBootstrap();
    expect(registry.doesExist('cron', CLEANUP_JOB)).toBe(true);
    expect(registry.getCronJob(CLEANUP_JOB).cronTime.source).toBe('*/5 * * * * *');
    await scheduled.onModuleDestroy();
    expect(registry.doesExist('cron', CLEANUP_JOB)).toBe(false);
  });

  it('runs without @nestjs/schedule in the app (no SchedulerRegistry), and stops with it', async () => {
    const standalone = new SessionCleanupJob(
      repository,
      metrics,
      configWith({ CLEANUP_CRON: '* * * * * *' }),
      new AuditTrail(null, clock, metrics, configWith({ CLEANUP_CRON: '* * * * * *' })),
    );
    for (let i = 0; i < 5; i++) await repository.create(newSession(`alone-${i}`));
    clock.advance(31 * MINUTE);
    standalone.onApplicationBootstrap();
    // The job fires within a second on its own cron; bounded wait, no timing assertion.
    const deadline = Date.now() + 5000;
    while ((await repository.stats()).stored !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await repository.stats()).stored).toBe(0);
    await standalone.onModuleDestroy();
  });

  describe('with rate-limit counters in SQL', () => {
    let database: SqlDatabase;
    let counters: SqlRateLimitStore;
    const login = { name: 'login:ip', limit: 2, windowSeconds: 900 };

    beforeEach(async () => {
      database = openDatabase('sqlite::memory:');
      await runMigrations(database.db, database.kind, RATE_LIMIT_MIGRATIONS);
      counters = new SqlRateLimitStore(database);
    });

    afterEach(() => database.db.destroy());

    /** Counters as rate-limiter-flexible leaves them once their window has ended. */
    async function expiredCounters(count: number): Promise<void> {
      const ended = Date.now() - MINUTE;
      await rateLimitsDb(database)
        .insertInto('rate_limits')
        .values(
          Array.from({ length: count }, (_, i) => ({
            key: `login:ip:expired-${i}`,
            points: 5,
            expire: ended,
          })),
        )
        .execute();
    }

    const storedCounters = async () =>
      (await rateLimitsDb(database).selectFrom('rate_limits').select('key').execute()).map(
        (row) => row.key,
      );

    it('sweeps the expired counters after the sessions, in batches, and keeps the live ones', async () => {
      await populate(3, 1);
      await expiredCounters(2 * BATCH + 5);
      await counters.consume(login, 'live');
      const sweeps = jest.spyOn(counters, 'deleteExpired');
      const lines: unknown[] = [];
      Logger.overrideLogger({
        log: (message: unknown) => lines.push(message),
        error: () => undefined,
        warn: () => undefined,
      });
      const withCounters = new SessionCleanupJob(
        repository,
        metrics,
        configWith({ CLEANUP_BATCH_SIZE: String(BATCH) }),
        new AuditTrail(null, clock, metrics, configWith({ CLEANUP_BATCH_SIZE: String(BATCH) })),
        undefined,
        counters,
      );
      try {
        expect(await withCounters.run()).toBe(3);
      } finally {
        Logger.overrideLogger(false);
        await withCounters.onModuleDestroy();
      }
      expect(await storedCounters()).toEqual(['login:ip:live']);
      expect(sweeps.mock.calls.length).toBeGreaterThanOrEqual(3);
      expect(sweeps.mock.calls.every(([max]) => max === BATCH)).toBe(true);
      expect(lines).toContainEqual(
        expect.objectContaining({ event: 'rate_limit_cleanup', removed: 2 * BATCH + 5 }),
      );
      // The sessions' metric counts sessions only.
      expect(await metricValue(metrics, 'fpa_cleanup_removed_sessions_total')).toBe(3);
      // The live counter still counts: its limit of 2 is reached on the second attempt after it.
      expect((await counters.consume(login, 'live')).allowed).toBe(true);
      expect((await counters.consume(login, 'live')).allowed).toBe(false);
    });

    it('logs a failed counter sweep and still reports the sessions it removed', async () => {
      await populate(2, 0);
      await database.db.destroy();
      const errors: unknown[] = [];
      Logger.overrideLogger({
        log: () => undefined,
        error: (message: unknown) => errors.push(message),
        warn: () => undefined,
      });
      const withCounters = new SessionCleanupJob(
        repository,
        metrics,
        configWith({}),
        new AuditTrail(null, clock, metrics, configWith({})),
        undefined,
        counters,
      );
      try {
        expect(await withCounters.run()).toBe(2);
      } finally {
        Logger.overrideLogger(false);
        await withCounters.onModuleDestroy();
      }
      expect(errors).toContainEqual(
        expect.objectContaining({ event: 'rate_limit_cleanup_failed' }),
      );
      database = openDatabase('sqlite::memory:'); // for afterEach
    });

    it('leaves stores whose counters expire by themselves alone (memory, Redis)', async () => {
      const lines: unknown[] = [];
      Logger.overrideLogger({
        log: (message: unknown) => lines.push(message),
        error: () => undefined,
        warn: () => undefined,
      });
      const withMemoryCounters = new SessionCleanupJob(
        repository,
        metrics,
        configWith({}),
        new AuditTrail(null, clock, metrics, configWith({})),
        undefined,
        new InMemoryRateLimitStore(),
      );
      try {
        await withMemoryCounters.run();
      } finally {
        Logger.overrideLogger(false);
        await withMemoryCounters.onModuleDestroy();
      }
      expect(lines).toContainEqual(expect.objectContaining({ event: 'session_cleanup' }));
      expect(lines).not.toContainEqual(expect.objectContaining({ event: 'rate_limit_cleanup' }));
    });
  });
});
