import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
} from 'class-validator';
import { FingerprintAuthConfig, resolveConfig } from '../options/fingerprint-auth-config';
import type { FingerprintAuthOptions } from '../options/fingerprint-auth-options';
import {
  boolean,
  duration,
  envName,
  FingerprintAuthSettings,
  integer,
  list,
  SettingNamer,
  settingNames,
  trimmed,
} from '../options/settings';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The standalone service's configuration: every setting of the library (`FingerprintAuthSettings`)
 * plus what only the service has (its listeners, proxies, logs, timeouts, docs). Read from the
 * environment by `validateEnv`; each setting's variable is its name in upper snake case.
 */
export class ServiceConfig extends FingerprintAuthConfig {
  @integer()
  @IsInt()
  @Min(0)
  @Max(65535)
  port = 3000;

  @trimmed()
  @IsString()
  @MinLength(1)
  host = '0.0.0.0';

  @list()
  @Matches(/^https?:\/\/[^/\s]+$/, {
    each: true,
    message: '$property must be comma-separated origins such as https://app.example.com',
  })
  corsOrigins: string[] = [];

  /**
   * `false`, `true` (trust every hop) or comma-separated proxy addresses/CIDRs. No hop count: it
   * cannot tell a proxy from a client that sends enough X-Forwarded-For entries (Fastify 5.12
   * trusts nothing for one).
   */
  @trimmed()
  @IsString()
  @Matches(/^(true|false|(?!\d+$)[0-9a-fA-F.:/,\s]+)$/, {
    message:
      '$property must be true, false or comma-separated proxy addresses/CIDRs (a hop count cannot tell a proxy from a client)',
  })
  trustProxy = 'false';

  @IsIn(LOG_LEVELS)
  logLevel: LogLevel = 'info';

  /** Largest request body accepted, in bytes. */
  @integer()
  @IsInt()
  @Min(256)
  @Max(1_048_576)
  bodyLimit = 8192;

  /** How long a graceful shutdown may take before the process exits anyway (seconds). */
  @duration()
  @IsInt()
  @Min(1)
  shutdownTimeout = 10;

  /**
   * Longest a client may take to send a whole request, headers and body (seconds); past it the
   * answer is 408 and the connection is closed before any handler runs. A request is at most
   * bodyLimit (8 KB by default), which any working link delivers within a second; 5 s leaves room
   * for retransmissions and is half the default shutdownTimeout, so a client still sending when a
   * shutdown starts is cut off before the shutdown deadline.
   */
  @duration()
  @IsInt()
  @Min(1)
  @Max(3600)
  requestTimeout = 5;

  /** Longest a client may take to send the request headers (seconds); at most requestTimeout. */
  @duration()
  @IsInt()
  @Min(1)
  @Max(3600)
  headersTimeout = 5;

  /**
   * How long an idle keep-alive connection stays open (seconds). Above the 60 s idle timeout of
   * common load balancers, so the balancer closes first and never sends a request on a connection
   * the service is closing. Idle connections are closed at once when a shutdown starts.
   */
  @duration()
  @IsInt()
  @Min(1)
  @Max(3600)
  keepAliveTimeout = 72;

  /** When set, /metrics is served on this port only (its own listener), not on `port`. */
  @IsOptional()
  @integer()
  @IsInt()
  @Min(1)
  @Max(65535)
  metricsPort?: number;

  /** Address the metrics listener binds to; `host` when unset. */
  @IsOptional()
  @trimmed()
  @IsString()
  @MinLength(1)
  metricsHost?: string;

  /**
   * The OpenAPI UI and documents at /docs, /docs-json and /docs-yaml. Unset: off when
   * nodeEnv=production, on otherwise (`validateEnv` applies it).
   */
  @IsOptional()
  @boolean()
  @IsBoolean()
  declare apiDocs: boolean;

  /** Readiness reports down above this heap size (MiB). */
  @integer()
  @IsInt()
  @Min(16)
  healthHeapLimitMb = 4096;
}

/** The rules between the service's own settings. */
function serviceProblems(config: ServiceConfig, name: SettingNamer): string[] {
  const problems: string[] = [];
  if (
    Number.isInteger(config.headersTimeout) &&
    Number.isInteger(config.requestTimeout) &&
    config.headersTimeout > config.requestTimeout
  ) {
    problems.push(
      `${name('headersTimeout')} must not exceed ${name('requestTimeout')} (the headers are part of the request)`,
    );
  }
  if (config.metricsPort !== undefined && config.metricsPort === config.port) {
    problems.push(`${name('metricsPort')} must differ from ${name('port')}`);
  }
  return problems;
}

/**
 * Validates the environment (`process.env`, or a test's record) into the service's config; throws
 * `InvalidConfigError` naming every bad variable. Pure: it reads no file (the signing keys are
 * resolved when the app is built).
 */
export function validateEnv(raw: Record<string, unknown>): ServiceConfig {
  const input: Record<string, unknown> = {};
  for (const setting of settingNames(ServiceConfig)) input[setting] = raw[envName(setting)];
  const config = resolveConfig(ServiceConfig, input, 'env', serviceProblems);
  config.apiDocs ??= config.nodeEnv !== 'production';
  return config;
}

/**
 * The library's options for this service: its environment mapped onto them and nothing else (no
 * part of the library reads `process.env`).
 */
export function moduleOptions(config: ServiceConfig): FingerprintAuthOptions {
  const options: Record<string, unknown> = {};
  for (const setting of settingNames(FingerprintAuthSettings)) {
    options[setting] = config[setting as keyof ServiceConfig];
  }
  // Resolved already; handed on as given, so the library sees what the operator set.
  options.sessionSnapshotPath = config.sessionSnapshotPathSet
    ? (config.sessionSnapshotPath ?? 'off')
    : undefined;
  return options as FingerprintAuthOptions;
}
