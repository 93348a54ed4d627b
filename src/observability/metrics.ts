import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The in-process caches whose lookups are counted. */
export type CacheName = 'sessions' | 'users';

/**
 * One in-process cache's lookups: answered there (`hits`), read from the store (`misses`), or
 * read from the store because the invalidation channel could not vouch for the cache
 * (`bypasses`). Plain numbers, read when the metrics are scraped: the guard's path pays no
 * labelled increment.
 */
export class CacheLookups {
  hits = 0;
  misses = 0;
  bypasses = 0;
}

/**
 * Fingerprint Auth's Prometheus metrics, in a registry of their own (not prom-client's global
 * one), so several instances in one process (tests) never collide. A host app serves
 * `registry.metrics()` on its scrape endpoint (or merges the registry with its own).
 */
@Injectable()
export class FingerprintAuthMetrics {
  readonly registry = new Registry();
  private readonly caches = new Map<CacheName, CacheLookups>();

  readonly logins = new Counter({
    name: 'fpa_logins_total',
    help: 'Login attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly guardRejections = new Counter({
    name: 'fpa_guard_rejections_total',
    help: 'Guarded requests turned away, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly revocations = new Counter({
    name: 'fpa_session_revocations_total',
    help: 'Sessions ended before expiry, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly evictions = new Counter({
    name: 'fpa_session_evictions_total',
    help: 'Sessions evicted by the per-user limit (evict-oldest policy)',
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'fpa_rate_limited_total',
    help: 'Requests refused by a rate limit, by route and scope (ip or account)',
    labelNames: ['route', 'scope'] as const,
    registers: [this.registry],
  });

  readonly refreshes = new Counter({
    name: 'fpa_refreshes_total',
    help: 'Refresh attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly alerts = new Counter({
    name: 'fpa_session_alerts_total',
    help: 'Session alerts raised, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly cleanupRemoved = new Counter({
    name: 'fpa_cleanup_removed_sessions_total',
    help: 'Expired sessions removed by the cleanup job',
    registers: [this.registry],
  });

  readonly cleanupDuration = new Histogram({
    name: 'fpa_cleanup_duration_seconds',
    help: 'Duration of cleanup job runs',
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  readonly auditWritten = new Counter({
    name: 'fpa_audit_events_written_total',
    help: 'Audit events written to the database',
    registers: [this.registry],
  });

  readonly auditDropped = new Counter({
    name: 'fpa_audit_events_dropped_total',
    help: 'Audit events dropped, oldest first, because the queue was full (the database did not take them)',
    registers: [this.registry],
  });

  readonly auditWriteFailures = new Counter({
    name: 'fpa_audit_write_failures_total',
    help: 'Batches of audit events the database did not take (they stay queued and are retried)',
    registers: [this.registry],
  });

  readonly snapshotFailures = new Counter({
    name: 'fpa_session_snapshot_failures_total',
    help: 'Snapshot writes of the in-memory session store that failed (the previous snapshot is kept; the next interval tries again)',
    registers: [this.registry],
  });

  readonly cacheLookups = new Counter({
    name: 'fpa_cache_lookups_total',
    help: 'Lookups of the in-process caches (sessions in Redis mode, users) by result: hit (answered in process), miss (read from the store), bypass (read from the store because the invalidation channel was down)',
    labelNames: ['cache', 'result'] as const,
    registers: [this.registry],
    collect: () => {
      this.cacheLookups.reset();
      for (const [cache, counts] of this.caches) {
        this.cacheLookups.inc({ cache, result: 'hit' }, counts.hits);
        this.cacheLookups.inc({ cache, result: 'miss' }, counts.misses);
        this.cacheLookups.inc({ cache, result: 'bypass' }, counts.bypasses);
      }
    },
  });

  readonly auditQueued = new Gauge({
    name: 'fpa_audit_events_queued',
    help: 'Audit events waiting to be written',
    registers: [this.registry],
  });

  /** The counts `cache` keeps (one set per cache name and registry). */
  lookupsOf(cache: CacheName): CacheLookups {
    let counts = this.caches.get(cache);
    if (counts === undefined) {
      counts = new CacheLookups();
      this.caches.set(cache, counts);
    }
    return counts;
  }
}
