import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { AuthModule } from './auth/auth.module';
import { Clock } from './common/clock';
import { CommonModule } from './common/common.module';
import { DomainExceptionFilter } from './common/exception.filter';
import { SigningKeys } from './auth/signing-keys';
import { configModule, Env, JwtSecrets, JwtSecretsModule } from './config';
import { StartupReport } from './config/startup-report';
import { GeoIpModule } from './geoip/geoip.module';
import { HealthModule } from './health/health.module';
import { ObservabilityModule } from './observability/observability.module';
import { SessionsModule } from './sessions/sessions.module';
import { UsersModule } from './users/users.module';

export interface AppOptions {
  clock?: Clock;
}

@Module({})
export class AppModule {
  /** The whole service for one validated environment (see `validateEnv`); tests may pass a clock. */
  static forRoot(env: Env, options: AppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        configModule(env),
        // Reads (or, on a first quick start, generates) the signing keys: a bad JWT_SECRET_FILE
        // stops start-up here, before anything listens.
        JwtSecretsModule.forRoot(env),
        CommonModule.forRoot(options.clock),
        ObservabilityModule.forRoot(env),
        ScheduleModule.forRoot(),
        GeoIpModule.forRoot(env),
        UsersModule,
        SessionsModule,
        AuthModule,
        HealthModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: DomainExceptionFilter },
        {
          provide: StartupReport,
          inject: [JwtSecrets, SigningKeys],
          useFactory: (secrets: JwtSecrets, keys: SigningKeys) =>
            new StartupReport(env, {
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
