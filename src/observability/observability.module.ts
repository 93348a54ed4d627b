import { Global, Module } from '@nestjs/common';
import { Metrics } from './metrics';
import { MetricsController } from './metrics.controller';
import { SecurityEvents } from './security-events';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [Metrics, SecurityEvents],
  exports: [Metrics, SecurityEvents],
})
export class ObservabilityModule {}
