import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { monotonicFactory } from 'ulid';
import { Clock } from '../common/clock';
import { randomFractions } from '../common/random-fraction';
import { classifyStoreFailure } from '../common/store-failure';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { AuditEvent, NewAuditEvent } from './audit-event';
import type { SweepResult } from '../common/sweep';
import { AuditEventRepository } from './audit-event.repository';

/** The module's audit-event store; null when the audit trail is off (`auditTrail: false`). */
export const AUDIT_EVENTS = Symbol('AUDIT_EVENTS');

/** Events written per INSERT batch. */
const BATCH = 200;
/** How long an event may wait before it is written, when fewer than a batch are queued. */
const FLUSH_DELAY_MS = 500;
/** Retry delays while the database does not take the events: doubling, at most this. */
const MAX_RETRY_DELAY_MS = 10_000;
/** How long shutdown waits for the queue to drain into a database that answers slowly. */
const SHUTDOWN_FLUSH_MS = 5_000;

/**
 * Records the security events of each account off the request's path: `record` only queues (it
 * never waits, never throws), and the queue is written in batches shortly after. While the
 * database does not take them, events wait and the writes are retried with backoff; beyond
 * `auditQueueSize` the oldest are dropped, counted (`fpa_audit_events_dropped_total`) and
 * logged once per outage. A login never waits for, or fails because of, its audit event.
 * Shutdown writes what is queued (bounded in time).
 */
@Injectable()
export class AuditTrail implements BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditTrail');
  private readonly nextId = monotonicFactory(randomFractions());
  private readonly limit: number;
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private retryDelayMs = FLUSH_DELAY_MS;
  private failing = false;
  private droppedInOutage = 0;
  private stopped = false;

  constructor(
    @Inject(AUDIT_EVENTS) private readonly events: AuditEventRepository | null,
    private readonly clock: Clock,
    private readonly metrics: FingerprintAuthMetrics,
    config: FingerprintAuthConfig,
  ) {
    this.limit = config.auditQueueSize;
    metrics.auditQueued.set(0);
  }

  /** Whether events are kept (the route lists them); false: the log is the only record. */
  get enabled(): boolean {
    return this.events !== null;
  }

  /** Queues one event; returns at once. */
  record(event: NewAuditEvent): void {
    if (this.events === null) return;
    const at = this.clock.now();
    this.queue.push({ ...event, id: this.nextId(at), at });
    if (this.queue.length > this.limit) {
      const dropped = this.queue.length - this.limit;
      this.queue.splice(0, dropped);
      this.metrics.auditDropped.inc(dropped);
      if (this.droppedInOutage === 0) {
        this.logger.error({
          event: 'audit_events_dropped',
          message: `the audit queue is full (${this.limit} events): dropping the oldest until the database takes them again`,
        });
      }
      this.droppedInOutage += dropped;
    }
    this.metrics.auditQueued.set(this.queue.length);
    if (this.stopped) return;
    if (this.queue.length >= BATCH && !this.failing) this.schedule(0);
    else this.schedule(this.failing ? this.retryDelayMs : FLUSH_DELAY_MS);
  }

  /** Writes everything queued now (joins a write under way); resolves even when the database fails. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => (this.flushing = null));
    return this.flushing;
  }

  list(userId: string, limit: number, before?: string): Promise<AuditEvent[]> {
    return this.events === null
      ? Promise.resolve([])
      : this.events.listByUser(userId, limit, before);
  }

  /** Removes up to `max` events older than the retention. */
  sweep(retentionSeconds: number, max: number): Promise<SweepResult> {
    if (this.events === null) return Promise.resolve({ removed: 0, more: false });
    return this.events.deleteOlderThan(this.clock.now() - retentionSeconds * 1000, max);
  }

  /** Forgets a deleted account: its queued and stored events. */
  async forgetUser(userId: string): Promise<void> {
    if (this.events === null) return;
    this.queue = this.queue.filter((event) => event.userId !== userId);
    this.metrics.auditQueued.set(this.queue.length);
    await this.flushing;
    await this.events.deleteForUser(userId);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.events === null || this.queue.length === 0) return;
    const deadline = Date.now() + SHUTDOWN_FLUSH_MS;
    while (this.queue.length > 0 && Date.now() < deadline) {
      const before = this.queue.length;
      await this.flush();
      if (this.queue.length >= before) break; // the database refused: do not spin
    }
    if (this.queue.length > 0) {
      this.logger.error({
        event: 'audit_events_lost',
        count: this.queue.length,
        message: `shutting down with ${this.queue.length} audit events the database did not take`,
      });
    }
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delayMs);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    const events = this.events;
    if (events === null) return;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, BATCH);
      try {
        await events.append(batch);
      } catch (error) {
        this.metrics.auditWriteFailures.inc();
        if (!this.failing) {
          this.failing = true;
          this.logger.error({
            event: 'audit_write_failed',
            ...classifyStoreFailure(error),
            message:
              'the database did not take the audit events: they wait in the queue and are retried',
          });
        }
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_DELAY_MS);
        if (!this.stopped) this.schedule(this.retryDelayMs);
        return;
      }
      // Events queued meanwhile sit behind the batch; events dropped meanwhile were its oldest.
      const written = new Set(batch.map((event) => event.id));
      this.queue = this.queue.filter((event) => !written.has(event.id));
      this.metrics.auditWritten.inc(batch.length);
      this.metrics.auditQueued.set(this.queue.length);
      if (this.failing) {
        this.failing = false;
        this.logger.log({
          event: 'audit_write_recovered',
          dropped: this.droppedInOutage,
          message: `the database takes audit events again (${this.droppedInOutage} dropped meanwhile)`,
        });
      }
      this.droppedInOutage = 0;
      this.retryDelayMs = FLUSH_DELAY_MS;
    }
  }
}
