import { resolve } from 'node:path';
import { DynamicModule, Logger, Module, OnModuleInit } from '@nestjs/common';
import { Env, InvalidConfigError } from '../config';
import { DisabledGeoLocator, GeoLocator } from './geo-locator';
import { GeoDatabaseError, MaxMindGeoLocator } from './maxmind-geo-locator';

/** The CC0-packaged country database shipped as a dependency (data: RIRs via the NRO, CC BY 4.0). */
export const EMBEDDED_GEOIP_PACKAGE = '@ip-location-db/geo-whois-asn-country-mmdb';
const EMBEDDED_GEOIP_FILE = `${EMBEDDED_GEOIP_PACKAGE}/geo-whois-asn-country.mmdb`;

type GeoIpSource =
  | { readonly kind: 'off' }
  | { readonly kind: 'embedded' }
  | { readonly kind: 'file'; readonly path: string };

function geoIpSource(env: Pick<Env, 'GEOIP' | 'GEOIP_DB_PATH'>): GeoIpSource {
  if (!env.GEOIP) return { kind: 'off' };
  if (env.GEOIP_DB_PATH) return { kind: 'file', path: resolve(env.GEOIP_DB_PATH) };
  return { kind: 'embedded' };
}

function openEmbedded(): MaxMindGeoLocator {
  const problem = (reason: string) =>
    new InvalidConfigError([
      `GEOIP: the embedded database (${EMBEDDED_GEOIP_PACKAGE}) ${reason}; reinstall the dependencies, set GEOIP_DB_PATH to an MMDB file, or set GEOIP=off`,
    ]);
  let path: string;
  try {
    path = require.resolve(EMBEDDED_GEOIP_FILE);
  } catch {
    throw problem('is not installed');
  }
  try {
    return MaxMindGeoLocator.open(path);
  } catch (error) {
    if (error instanceof GeoDatabaseError) throw problem(error.message);
    throw error;
  }
}

function openFile(path: string): MaxMindGeoLocator {
  try {
    return MaxMindGeoLocator.open(path);
  } catch (error) {
    if (error instanceof GeoDatabaseError) {
      throw new InvalidConfigError([`GEOIP_DB_PATH: ${path} ${error.message}`]);
    }
    throw error;
  }
}

/**
 * Picks the locator from validated config and opens its database. Nothing is opened with
 * GEOIP=off (a GEOIP_DB_PATH is then ignored). A database that cannot serve is a configuration
 * error naming the variable (`InvalidConfigError`).
 */
export function createGeoLocator(env: Pick<Env, 'GEOIP' | 'GEOIP_DB_PATH'>): GeoLocator {
  const source = geoIpSource(env);
  switch (source.kind) {
    case 'off':
      return new DisabledGeoLocator();
    case 'embedded':
      return openEmbedded();
    case 'file':
      return openFile(source.path);
    default: {
      const unknown: never = source;
      throw new Error(`Unknown GeoIP source: ${JSON.stringify(unknown)}`);
    }
  }
}

@Module({})
export class GeoIpModule implements OnModuleInit {
  constructor(private readonly geo: GeoLocator) {}

  /**
   * The locator is built here, while the app module is assembled, rather than in a `useFactory`
   * provider: an error thrown inside Nest's injector is logged by Nest with its stack trace before
   * `main.ts` sees it, whereas this one reaches `main.ts` as a plain `InvalidConfigError`.
   */
  static forRoot(env: Pick<Env, 'GEOIP' | 'GEOIP_DB_PATH'>): DynamicModule {
    return {
      module: GeoIpModule,
      global: true,
      providers: [{ provide: GeoLocator, useValue: createGeoLocator(env) }],
      exports: [GeoLocator],
    };
  }

  onModuleInit(): void {
    const logger = new Logger('GeoIp');
    if (this.geo instanceof MaxMindGeoLocator) {
      const { type, ipVersion, builtAt } = this.geo.database;
      logger.log(
        `Locating sessions with "${type}" (IPv${ipVersion}), built ${builtAt.toISOString().slice(0, 10)}`,
      );
    } else {
      logger.log('GEOIP=off: sessions have no location');
    }
  }
}
