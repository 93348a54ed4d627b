import { Injectable } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { SessionRepository, SessionStoreStats } from './session.repository';

/** The figures readiness reports and the metrics expose, from one `stats()` answer. */
export interface SessionStoreFigures {
  /** Sessions that are still valid. */
  readonly live: number | null;
  /** Sessions past their expiry that the cleanup job has not removed yet. */
  readonly expired: number | null;
  readonly capacity: number | null;
  readonly estimatedBytes: number | null;
}

const known = (value: number | null | undefined): value is number =>
  typeof value === 'number' && Number.isFinite(value);

export function sessionStoreFigures(stats: SessionStoreStats): SessionStoreFigures {
  const { stored, expired } = stats;
  return {
    live: known(stored) ? Math.max(0, stored - (known(expired) ? expired : 0)) : null,
    expired: known(expired) ? expired : null,
    capacity: known(stats.capacity) ? stats.capacity : null,
    estimatedBytes: known(stats.estimatedBytes) ? stats.estimatedBytes : null,
  };
}

/**
 * A gauge read from the store on scrape, left out of the scrape (no sample) while its figure is
 * unknown rather than reported as 0: prom-client's `reset()` puts an unlabelled gauge back at 0,
 * so "unknown" (capacity on Redis, live sessions in SQL) has to be dropped from what it answers.
 */
class FigureGauge extends Gauge {
  constructor(
    name: string,
    help: string,
    registry: Registry,
    private readonly read: () => Promise<number | null | undefined>,
  ) {
    super({ name, help, registers: [registry] });
  }

  override async get(): ReturnType<Gauge['get']> {
    const value = await this.read();
    if (known(value)) this.set(value);
    else this.reset();
    const metric = await super.get();
    return known(value) ? metric : { ...metric, values: [] };
  }
}

/**
 * Session-store gauges, read from the store's `stats()` when Prometheus scrapes (nothing is
 * counted on the request path). Owned by SessionsModule, like the store's readiness indicator.
 */
@Injectable()
export class SessionStoreMetrics {
  /** One `stats()` call per scrape, shared by every gauge below (prom-client collects them at once). */
  private pending: Promise<SessionStoreFigures | null> | null = null;

  constructor(
    private readonly sessions: SessionRepository,
    metrics: FingerprintAuthMetrics,
  ) {
    const figure = (name: string, help: string, key: keyof SessionStoreFigures) =>
      new FigureGauge(name, help, metrics.registry, async () => (await this.figures())?.[key]);
    figure('fpa_sessions_live', 'Live sessions in the session store', 'live');
    figure(
      'fpa_sessions_expired_unswept',
      'Expired sessions the cleanup job has not removed yet',
      'expired',
    );
    figure(
      'fpa_sessions_capacity',
      'Most sessions the store holds (absent when it has no fixed capacity)',
      'capacity',
    );
    figure(
      'fpa_sessions_estimated_bytes',
      'Estimated memory the stored sessions take',
      'estimatedBytes',
    );
    const read = () => this.figures();
    new Gauge({
      name: 'fpa_session_store_up',
      help: '1 when the session store answered the last scrape, 0 when it did not',
      registers: [metrics.registry],
      async collect() {
        this.set((await read()) === null ? 0 : 1);
      },
    });
  }

  private figures(): Promise<SessionStoreFigures | null> {
    this.pending ??= this.sessions
      .stats()
      .then(sessionStoreFigures, () => null)
      .finally(() => (this.pending = null));
    return this.pending;
  }
}
