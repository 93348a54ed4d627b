import {
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { AuditTrail } from '../audit/audit-trail';
import { classifyStoreFailure } from '../common/store-failure';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { RateLimitStore } from '../rate-limit/rate-limit.store';
import { SessionRepository } from './session.repository';

export const CLEANUP_JOB = 'session-cleanup';

/**
 * Removes expired sessions on `cleanupCron`, then the rate-limit counters whose window has ended
 * when their store keeps them (SQL; memory and Redis counters expire by themselves). Works in
 * batches of `cleanupBatchSize` and yields to the event loop between them, so a large sweep never
 * stalls requests; runs never overlap.
 * The job is a `cron` job of its own; when the app has @nestjs/schedule's `ScheduleModule`, it is
 * also listed in its `SchedulerRegistry` (under `session-cleanup`), where operators find jobs.
 */
@Injectable()
export class SessionCleanupJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('SessionCleanup');
  private running: Promise<number> | null = null;
  private stopping = false;
  private job: CronJob | null = null;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly metrics: FingerprintAuthMetrics,
    private readonly config: FingerprintAuthConfig,
    private readonly audit: AuditTrail,
    @Optional() private readonly scheduler?: SchedulerRegistry,
    @Optional() private readonly rateLimits?: RateLimitStore,
  ) {}

  onApplicationBootstrap(): void {
    this.job = CronJob.from({
      cronTime: this.config.cleanupCron,
      onTick: () => void this.run(),
      start: true,
    });
    if (this.scheduler && !this.scheduler.doesExist('cron', CLEANUP_JOB)) {
      this.scheduler.addCronJob(CLEANUP_JOB, this.job);
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    void this.job?.stop();
    if (this.job && this.scheduler?.doesExist('cron', CLEANUP_JOB)) {
      if (this.scheduler.getCronJob(CLEANUP_JOB) === this.job) {
        this.scheduler.deleteCronJob(CLEANUP_JOB);
      }
    }
    await this.running;
  }

  /**
   * One sweep; when one is under way already, returns that one instead of starting another.
   * Resolves with the number of sessions removed.
   */
  run(): Promise<number> {
    this.running ??= this.sweep().finally(() => (this.running = null));
    return this.running;
  }

  private async sweep(): Promise<number> {
    const batchSize = this.config.cleanupBatchSize;
    const started = performance.now();
    const removed = await this.inBatches('session_cleanup_failed', () =>
      this.sessions.deleteExpired(batchSize),
    );
    const seconds = (performance.now() - started) / 1000;
    this.metrics.cleanupRemoved.inc(removed);
    this.metrics.cleanupDuration.observe(seconds);
    this.logger.log({ event: 'session_cleanup', removed, durationMs: Math.round(seconds * 1000) });
    if (this.audit.enabled && !this.stopping) {
      const auditStarted = performance.now();
      const auditRemoved = await this.inBatches('audit_cleanup_failed', () =>
        this.audit.sweep(this.config.auditRetention, batchSize),
      );
      this.logger.log({
        event: 'audit_cleanup',
        removed: auditRemoved,
        durationMs: Math.round(performance.now() - auditStarted),
      });
    }
    const rateLimits = this.rateLimits;
    if (rateLimits?.deleteExpired !== undefined && !this.stopping) {
      const limitsStarted = performance.now();
      const limitsRemoved = await this.inBatches('rate_limit_cleanup_failed', () =>
        (rateLimits.deleteExpired as NonNullable<RateLimitStore['deleteExpired']>)(batchSize),
      );
      this.logger.log({
        event: 'rate_limit_cleanup',
        removed: limitsRemoved,
        durationMs: Math.round(performance.now() - limitsStarted),
      });
    }
    return removed;
  }

  /**
   * Calls `batch` until it has nothing more (or the app is stopping), yielding to the event loop
   * between batches; a failure is logged as `failedEvent` and ends this part of the run.
   * Returns how many were removed.
   */
  private async inBatches(
    failedEvent: string,
    batch: () => Promise<{ removed: number; more: boolean }>,
  ): Promise<number> {
    let removed = 0;
    try {
      for (;;) {
        const result = await batch();
        removed += result.removed;
        if (!result.more || this.stopping) break;
        await yieldToEventLoop();
      }
    } catch (error) {
      this.logger.error({ event: failedEvent, ...classifyStoreFailure(error) });
    }
    return removed;
  }
}
