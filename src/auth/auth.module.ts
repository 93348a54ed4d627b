import { DynamicModule, Module } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Turns } from '../common/turns';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { JwtSecrets } from '../options/jwt-secrets';
import { AccessTokenService } from './access-token.service';
import { AuthRateLimitGuard } from './auth-rate-limit.guard';
import { AuthService } from './auth.service';
import { FingerprintAuthGuard } from './fingerprint-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { SigningKeys } from './signing-keys';

/** The modules the auth module is built on, one module instance's each. */
export interface AuthModuleImports {
  readonly core: DynamicModule;
  readonly cookies: DynamicModule;
  readonly users: DynamicModule;
  readonly sessions: DynamicModule;
  readonly rateLimits: DynamicModule;
}

/**
 * Logging in and out, refreshing, the access tokens and their keys, the Passport strategy and
 * the guard. The routes themselves are mounted by `FingerprintAuthModule`, which decides which and
 * where.
 */
@Module({})
export class AuthModule {
  static register({
    core,
    cookies,
    users,
    sessions,
    rateLimits,
  }: AuthModuleImports): DynamicModule {
    return {
      module: AuthModule,
      imports: [core, cookies, users, sessions, rateLimits],
      providers: [
        {
          provide: SigningKeys,
          inject: [JwtSecrets, FingerprintAuthConfig, Clock],
          useFactory: (secrets: JwtSecrets, config: FingerprintAuthConfig, clock: Clock) =>
            new SigningKeys(secrets, config.accessTokenTtl, clock),
        },
        AccessTokenService,
        AuthService,
        JwtStrategy,
        FingerprintAuthGuard,
        // One per module instance: its rate-limited routes take turns (see AuthRateLimitGuard).
        Turns,
        AuthRateLimitGuard,
      ],
      exports: [
        SigningKeys,
        AuthService,
        JwtStrategy,
        FingerprintAuthGuard,
        AuthRateLimitGuard,
        // The guard is built again wherever a controller names it: it needs its Turns there.
        Turns,
      ],
    };
  }
}
