import { Logger } from '@nestjs/common';
import { FakeClock } from '../common/clock';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { resolveModuleConfig } from '../fingerprint-auth-core.module';
import { AuditEvent, NewAuditEvent } from './audit-event';
import type { SweepResult } from '../common/sweep';
import { AuditEventRepository } from './audit-event.repository';
import { AuditTrail } from './audit-trail';

/** Keeps events in an array; `down` makes every call fail as a database outage would. */
class ArrayAuditEvents extends AuditEventRepository {
  readonly stored: AuditEvent[] = [];
  readonly batches: number[] = [];
  down = false;

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    this.batches.push(events.length);
    for (const event of events) {
      if (!this.stored.some((known) => known.id === event.id)) this.stored.push(event);
    }
  }

  async listByUser(userId: string, limit: number): Promise<AuditEvent[]> {
    return this.stored
      .filter((e) => e.userId === userId)
      .reverse()
      .slice(0, limit);
  }

  async deleteOlderThan(): Promise<SweepResult> {
    return { removed: 0, more: false };
  }

  async deleteForUser(userId: string): Promise<number> {
    const before = this.stored.length;
    this.stored.splice(0, this.stored.length, ...this.stored.filter((e) => e.userId !== userId));
    return before - this.stored.length;
  }
}

const newEvent = (n: number, userId = 'user-1'): NewAuditEvent => ({
  userId,
  type: 'login',
  sessionId: `session-${n}`,
  actorSessionId: null,
  ipAddress: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  location: null,
  detail: null,
});

const counter = async (metrics: FingerprintAuthMetrics, name: string): Promise<number> => {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return Number(metric?.values[0]?.value ?? 0);
};

describe('AuditTrail', () => {
  let clock: FakeClock;
  let metrics: FingerprintAuthMetrics;
  let events: ArrayAuditEvents;
  let errors: unknown[];

  const trail = (queueSize = 10_000) =>
    new AuditTrail(
      events,
      clock,
      metrics,
      resolveModuleConfig({
        jwtSecret: 'x'.repeat(40) + '0123456789abcdef',
        auditQueueSize: queueSize,
      }),
    );

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    metrics = new FingerprintAuthMetrics();
    events = new ArrayAuditEvents();
    errors = [];
    Logger.overrideLogger({
      log: () => undefined,
      warn: () => undefined,
      error: (message: unknown) => errors.push(message),
    });
  });

  afterEach(() => Logger.overrideLogger(false));

  it('only queues on record, then writes every event in order, in batches of at most 200', async () => {
    const audit = trail();
    for (let i = 0; i < 450; i++) audit.record(newEvent(i));
    expect(events.stored).toHaveLength(0);
    await audit.flush();
    expect(events.stored.map((e) => e.sessionId)).toEqual(
      Array.from({ length: 450 }, (_, i) => `session-${i}`),
    );
    expect(Math.max(...events.batches)).toBeLessThanOrEqual(200);
    // Ids sort as the events were recorded, even within one millisecond.
    const ids = events.stored.map((e) => e.id);
    expect([...ids].sort()).toEqual(ids);
    expect(await counter(metrics, 'fpa_audit_events_written_total')).toBe(450);
    expect(await counter(metrics, 'fpa_audit_events_queued')).toBe(0);
  });

  it('keeps events while the database refuses them and writes them all once it is back', async () => {
    const audit = trail();
    events.down = true;
    for (let i = 0; i < 5; i++) audit.record(newEvent(i));
    await audit.flush();
    await audit.flush();
    expect(events.stored).toHaveLength(0);
    expect(await counter(metrics, 'fpa_audit_write_failures_total')).toBe(2);
    expect(await counter(metrics, 'fpa_audit_events_queued')).toBe(5);
    // Logged once for the outage, with the code only (never a driver message).
    expect(errors).toEqual([
      expect.objectContaining({ event: 'audit_write_failed', code: 'ECONNREFUSED' }),
    ]);
    expect(JSON.stringify(errors)).not.toContain('connect ECONNREFUSED');

    events.down = false;
    audit.record(newEvent(5));
    await audit.flush();
    expect(events.stored.map((e) => e.sessionId)).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => `session-${i}`),
    );
  });

  it('drops the oldest beyond the queue size, counts them and says so once', async () => {
    const audit = trail(100);
    events.down = true;
    for (let i = 0; i < 150; i++) audit.record(newEvent(i));
    expect(await counter(metrics, 'fpa_audit_events_dropped_total')).toBe(50);
    expect(
      errors.filter((e) => (e as { event?: string }).event === 'audit_events_dropped'),
    ).toHaveLength(1);
    events.down = false;
    await audit.flush();
    expect(events.stored.map((e) => e.sessionId)).toEqual(
      Array.from({ length: 100 }, (_, i) => `session-${i + 50}`),
    );
  });

  it('writes what is queued at shutdown, and records nothing after', async () => {
    const audit = trail();
    audit.record(newEvent(1));
    audit.record(newEvent(2));
    await audit.beforeApplicationShutdown();
    expect(events.stored).toHaveLength(2);
  });

  it('says how many events a shutdown could not write', async () => {
    const audit = trail();
    events.down = true;
    audit.record(newEvent(1));
    await audit.beforeApplicationShutdown();
    expect(errors).toContainEqual(
      expect.objectContaining({ event: 'audit_events_lost', count: 1 }),
    );
  });

  it("forgets a deleted user's queued and stored events, and nobody else's", async () => {
    const audit = trail();
    audit.record(newEvent(1, 'gone'));
    await audit.flush();
    audit.record(newEvent(2, 'gone'));
    audit.record(newEvent(3, 'kept'));
    await audit.forgetUser('gone');
    await audit.flush();
    expect(events.stored.map((e) => e.userId)).toEqual(['kept']);
  });

  it('keeps nothing when the audit trail is off', async () => {
    const audit = new AuditTrail(
      null,
      clock,
      metrics,
      resolveModuleConfig({ jwtSecret: 'x'.repeat(40) + '0123456789abcdef' }),
    );
    audit.record(newEvent(1));
    await audit.flush();
    expect(audit.enabled).toBe(false);
    expect(await audit.list('user-1', 10)).toEqual([]);
  });
});
