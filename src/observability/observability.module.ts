import { Global, Module } from '@nestjs/common';
import { Metrics } from './metrics';
import { SecurityEvents } from './security-events';

@Global()
@Module({
  providers: [Metrics, SecurityEvents],
  exports: [Metrics, SecurityEvents],
})
export class ObservabilityModule {}
