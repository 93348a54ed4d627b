import { DynamicModule, Global, Module } from '@nestjs/common';
import { Env } from '../config';
import { Metrics } from './metrics';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics.listener';
import { SecurityEvents } from './security-events';

@Global()
@Module({})
export class ObservabilityModule {
  /** Metrics and security events; /metrics on the main port unless METRICS_PORT moves it. */
  static forRoot(env: Pick<Env, 'METRICS_PORT'>): DynamicModule {
    return {
      module: ObservabilityModule,
      controllers: env.METRICS_PORT === undefined ? [MetricsController] : [],
      providers: [Metrics, SecurityEvents, MetricsListener],
      exports: [Metrics, SecurityEvents, MetricsListener],
    };
  }
}
