import { Global, Module } from '@nestjs/common';
import { DisabledGeoLocator, GeoLocator } from './geo-locator';

@Global()
@Module({
  providers: [{ provide: GeoLocator, useClass: DisabledGeoLocator }],
  exports: [GeoLocator],
})
export class GeoIpModule {}
