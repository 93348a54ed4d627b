import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { SigningKeys } from './auth/signing-keys';
import type { Clock } from './common/clock';
import { moduleOptions, ServiceConfig } from './config';
import { StartupReport } from './config/startup-report';
import { FingerprintAuthModule } from './fingerprint-auth.module';
import type { GeoLocator } from './geoip/geo-locator';
import { HealthController } from './health/health.controller';
import { ShutdownState } from './health/shutdown-state';
import { DomainExceptionFilter } from './http/exception.filter';
import { MetricsController } from './observability/metrics.controller';
import { MetricsListener } from './observability/metrics.listener';
import { JwtSecrets, resolveJwtSecrets } from './options/jwt-secrets';

export interface AppOptions {
  /** The time source (tests). */
  clock?: Clock;
  /** The signing keys main.ts resolved already (so a bad key file is reported without a stack). */
  secrets?: JwtSecrets;
  /** The locator main.ts opened already (likewise). */
  geoLocator?: GeoLocator;
}

/**
 * The standalone service: Fingerprint Auth's module, guarding every route (`@Public()` opts out),
 * plus what only the service has: probes, /metrics (or its own port), the shutdown state the
 * probes report, the start-up report and one error shape for every answer, unknown paths too.
 */
@Module({})
export class AppModule {
  static forRoot(config: ServiceConfig, options: AppOptions = {}): DynamicModule {
    const secrets = options.secrets ?? resolveJwtSecrets(config, 'env');
    return {
      module: AppModule,
      imports: [
        FingerprintAuthModule.forRoot({
          ...moduleOptions(config),
          ...(options.clock ? { clock: options.clock } : {}),
          ...(options.geoLocator ? { geoLocator: options.geoLocator } : {}),
          globalGuard: true,
        }),
        ScheduleModule.forRoot(),
        TerminusModule.forRoot({ errorLogStyle: 'pretty', logger: false }),
      ],
      controllers: [
        HealthController,
        ...(config.metricsPort === undefined ? [MetricsController] : []),
      ],
      providers: [
        { provide: ServiceConfig, useValue: config },
        ShutdownState,
        MetricsListener,
        { provide: APP_FILTER, useClass: DomainExceptionFilter },
        {
          provide: StartupReport,
          inject: [SigningKeys],
          useFactory: (keys: SigningKeys) =>
            new StartupReport(config, {
              origin: secrets.origin,
              keyId: keys.current.kid,
              previousKeys: keys.verificationKeys().length - 1,
              previousAcceptedUntil: keys.previousAcceptedUntil,
            }),
        },
      ],
    };
  }
}
