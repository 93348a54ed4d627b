import { DynamicModule, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { auditProviders } from './audit/audit-providers';
import { AuditTrail } from './audit/audit-trail';
import { Clock, SystemClock } from './common/clock';
import { SQL_DATABASE, sqlDatabaseProviders } from './database/database-connection';
import { GeoIpReport, createGeoLocator } from './geoip/geo-locator.factory';
import { GeoLocator } from './geoip/geo-locator';
import { FingerprintAuthMetrics } from './observability/metrics';
import { SecurityEvents } from './observability/security-events';
import { FingerprintAuthConfig, resolveConfig } from './options/fingerprint-auth-config';
import type {
  FingerprintAuthModuleDefinition,
  FingerprintAuthOptions,
} from './options/fingerprint-auth-options';
import { JwtSecrets, resolveJwtSecrets } from './options/jwt-secrets';
import { InvalidConfigError, settingNames } from './options/settings';
import { INVALIDATION_CHANNEL, REDIS_CLIENT, redisProviders } from './redis/redis-connection';

/** The options a module instance was given (`forRoot`) or its factory returned (`forRootAsync`). */
export const FINGERPRINT_AUTH_OPTIONS = Symbol('FINGERPRINT_AUTH_OPTIONS');

/** Keys of the options that are objects handed over rather than settings. */
const OBJECT_OPTIONS = new Set<string>(['users', 'clock', 'geoLocator']);

/** `'api'`, `'/api/'` → `'/api'`; none → `''`. */
export function normaliseRoutePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (!/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(trimmed)) {
    throw new InvalidConfigError(
      [`routePrefix must be path segments such as 'api' or 'api/v1' (got '${prefix}')`],
      'FingerprintAuthModule options',
    );
  }
  return `/${trimmed}`;
}

/**
 * The config of a module instance: the options validated with the same rules and messages as the
 * service's environment variables (names as given: `accessTokenTtl`), unknown keys refused.
 */
export function resolveModuleConfig(
  options: FingerprintAuthOptions,
  definition: FingerprintAuthModuleDefinition = {},
): FingerprintAuthConfig {
  const settings = new Set(settingNames(FingerprintAuthConfig));
  const unknown = Object.keys(options ?? {}).filter(
    (key) => !settings.has(key) && !OBJECT_OPTIONS.has(key),
  );
  if (unknown.length > 0) {
    throw new InvalidConfigError(
      unknown.map((key) => `${key} is not an option of FingerprintAuthModule`),
      'FingerprintAuthModule options',
    );
  }
  const config = resolveConfig(FingerprintAuthConfig, options as Record<string, unknown>, 'option');
  config.routePrefix = normaliseRoutePrefix(definition.routePrefix);
  return config;
}

/**
 * What every part of one module instance shares: its options and resolved config, the clock, the
 * signing keys, the Redis connection and invalidation channel, the SQL database, the audit trail, the metrics registry, the security events and the GeoIP
 * locator. One per `forRoot`/`forRootAsync` call, so two instances (two apps in one process)
 * share nothing.
 */
@Module({})
export class FingerprintAuthCoreModule {
  static create(
    options: Provider,
    definition: FingerprintAuthModuleDefinition,
    imports: ModuleMetadata['imports'] = [],
  ): DynamicModule {
    return {
      module: FingerprintAuthCoreModule,
      imports,
      providers: [
        options,
        {
          provide: FingerprintAuthConfig,
          inject: [FINGERPRINT_AUTH_OPTIONS],
          useFactory: (given: FingerprintAuthOptions) => resolveModuleConfig(given, definition),
        },
        {
          provide: Clock,
          inject: [FINGERPRINT_AUTH_OPTIONS],
          useFactory: (given: FingerprintAuthOptions) => given.clock ?? new SystemClock(),
        },
        {
          provide: JwtSecrets,
          inject: [FingerprintAuthConfig],
          useFactory: (config: FingerprintAuthConfig) => resolveJwtSecrets(config),
        },
        {
          provide: GeoLocator,
          inject: [FINGERPRINT_AUTH_OPTIONS, FingerprintAuthConfig],
          useFactory: (given: FingerprintAuthOptions, config: FingerprintAuthConfig) =>
            given.geoLocator ?? createGeoLocator(config),
        },
        GeoIpReport,
        ...redisProviders,
        ...sqlDatabaseProviders(FINGERPRINT_AUTH_OPTIONS),
        ...auditProviders,
        FingerprintAuthMetrics,
        SecurityEvents,
      ],
      exports: [
        FINGERPRINT_AUTH_OPTIONS,
        FingerprintAuthConfig,
        Clock,
        JwtSecrets,
        GeoLocator,
        REDIS_CLIENT,
        INVALIDATION_CHANNEL,
        SQL_DATABASE,
        AuditTrail,
        FingerprintAuthMetrics,
        SecurityEvents,
      ],
    };
  }
}
