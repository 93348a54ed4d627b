import {
  DynamicModule,
  FactoryProvider,
  Module,
  ModuleMetadata,
  Provider,
  Type,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccountController } from './auth/account.controller';
import { AuthCookiesModule } from './auth/auth-cookies.module';
import { AuthController } from './auth/auth.controller';
import { AuthModule } from './auth/auth.module';
import { FingerprintAuthGuard } from './auth/fingerprint-auth.guard';
import { PasswordController } from './auth/password.controller';
import { RegistrationController } from './auth/registration.controller';
import {
  FINGERPRINT_AUTH_OPTIONS,
  FingerprintAuthCoreModule,
  normaliseRoutePrefix,
} from './fingerprint-auth-core.module';
import { prefixedController } from './http/route-prefix';
import type {
  FingerprintAuthModuleDefinition,
  FingerprintAuthOptions,
} from './options/fingerprint-auth-options';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { SessionsController } from './sessions/sessions.controller';
import { SessionsModule } from './sessions/sessions.module';
import { UsersModule } from './users/users.module';

/** `forRoot`'s argument: the options and, beside them, how the module is shaped. */
export type FingerprintAuthModuleOptions = FingerprintAuthOptions & FingerprintAuthModuleDefinition;

/** `forRootAsync`'s argument: a factory for the options, and how the module is shaped. */
export interface FingerprintAuthModuleAsyncOptions
  extends FingerprintAuthModuleDefinition, Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: never[]) => FingerprintAuthOptions | Promise<FingerprintAuthOptions>;
  inject?: FactoryProvider['inject'];
}

const DEFINITION_KEYS = ['isGlobal', 'globalGuard', 'routePrefix', 'routes'] as const;

/**
 * Fingerprint Auth in one import: login, refresh and logout routes, sessions users can list and
 * end, the guard (`FingerprintAuthGuard`, with `@Public()` and `@CurrentUser()`), on the host's
 * HTTP adapter (Express or Fastify), validated options with the service's defaults.
 *
 * ```ts
 * FingerprintAuthModule.forRoot({ jwtSecret: process.env.JWT_SECRET, globalGuard: true })
 * FingerprintAuthModule.forRootAsync({
 *   imports: [ConfigModule], inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ jwtSecret: config.getOrThrow('JWT_SECRET') }),
 * })
 * ```
 *
 * Exports (to every module, unless `isGlobal: false`): the guard and the strategy it runs,
 * `UsersService`, `SessionsService`, `AuthService`, the health indicators, the metrics registry
 * and the resolved `FingerprintAuthConfig`. It registers no global pipe, filter, middleware or
 * header: its own routes carry their validation and error shapes.
 */
@Module({})
export class FingerprintAuthModule {
  static forRoot(options: FingerprintAuthModuleOptions = {}): DynamicModule {
    const definition: FingerprintAuthModuleDefinition = {};
    const settings: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) {
      if ((DEFINITION_KEYS as readonly string[]).includes(key)) {
        (definition as Record<string, unknown>)[key] = value;
      } else settings[key] = value;
    }
    return FingerprintAuthModule.build(
      { provide: FINGERPRINT_AUTH_OPTIONS, useValue: settings },
      definition,
      [],
    );
  }

  static forRootAsync(options: FingerprintAuthModuleAsyncOptions): DynamicModule {
    const { imports = [], useFactory, inject = [], ...definition } = options;
    return FingerprintAuthModule.build(
      { provide: FINGERPRINT_AUTH_OPTIONS, useFactory, inject },
      definition,
      imports,
    );
  }

  private static build(
    options: Provider,
    definition: FingerprintAuthModuleDefinition,
    imports: NonNullable<ModuleMetadata['imports']>,
  ): DynamicModule {
    const core = FingerprintAuthCoreModule.create(options, definition, imports);
    const cookies = AuthCookiesModule.register(core);
    const users = UsersModule.register(core);
    const rateLimits = RateLimitModule.register(core);
    // The rate limits' module, for the cleanup job's sweep of expired counters.
    const sessions = SessionsModule.register(core, [], [rateLimits]);
    const auth = AuthModule.register({ core, cookies, users, sessions, rateLimits });
    return {
      module: FingerprintAuthModule,
      global: definition.isGlobal ?? true,
      imports: [core, cookies, users, rateLimits, sessions, auth],
      controllers: FingerprintAuthModule.controllers(definition),
      providers: definition.globalGuard
        ? [{ provide: APP_GUARD, useClass: FingerprintAuthGuard }]
        : [],
      exports: [core, users, sessions, auth],
    };
  }

  /** The routes this definition mounts, under its prefix. */
  private static controllers(definition: FingerprintAuthModuleDefinition): Type[] {
    const prefix = normaliseRoutePrefix(definition.routePrefix);
    const routes = definition.routes ?? {};
    const mounted: Type[] = [AuthController];
    if (routes.register !== false) mounted.push(RegistrationController);
    if (routes.password !== false) mounted.push(PasswordController);
    if (routes.account !== false) mounted.push(AccountController);
    if (routes.sessions !== false) mounted.push(SessionsController);
    return mounted.map((controller) => prefixedController(controller, prefix));
  }
}
