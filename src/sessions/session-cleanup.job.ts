import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { classifyStoreFailure } from '../common/store-failure';
import { Env } from '../config';
import { Metrics } from '../observability/metrics';
import { SessionRepository } from './session.repository';

export const CLEANUP_JOB = 'session-cleanup';

/**
 * Removes expired sessions on `CLEANUP_CRON`. Works in batches of `CLEANUP_BATCH_SIZE` and
 * yields to the event loop between them, so a large sweep never stalls requests; runs never overlap.
 */
@Injectable()
export class SessionCleanupJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('SessionCleanup');
  private running: Promise<number> | null = null;
  private stopping = false;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly scheduler: SchedulerRegistry,
    private readonly metrics: Metrics,
    private readonly config: ConfigService<Env, true>,
  ) {}

  onApplicationBootstrap(): void {
    const job = CronJob.from({
      cronTime: this.config.get('CLEANUP_CRON', { infer: true }),
      onTick: () => void this.run(),
      start: true,
    });
    this.scheduler.addCronJob(CLEANUP_JOB, job);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.scheduler.doesExist('cron', CLEANUP_JOB)) this.scheduler.deleteCronJob(CLEANUP_JOB);
    await this.running;
  }

  /** One sweep; when one is under way already, returns that one instead of starting another. */
  run(): Promise<number> {
    this.running ??= this.sweep().finally(() => (this.running = null));
    return this.running;
  }

  private async sweep(): Promise<number> {
    const batchSize = this.config.get('CLEANUP_BATCH_SIZE', { infer: true });
    const started = performance.now();
    let removed = 0;
    try {
      for (;;) {
        const result = await this.sessions.deleteExpired(batchSize);
        removed += result.removed;
        if (!result.more || this.stopping) break;
        await yieldToEventLoop();
      }
    } catch (error) {
      this.logger.error({ event: 'session_cleanup_failed', ...classifyStoreFailure(error) });
    }
    const seconds = (performance.now() - started) / 1000;
    this.metrics.cleanupRemoved.inc(removed);
    this.metrics.cleanupDuration.observe(seconds);
    this.logger.log({ event: 'session_cleanup', removed, durationMs: Math.round(seconds * 1000) });
    return removed;
  }
}
