import { resolve } from 'node:path';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { InvalidConfigError, namer, SettingNamer, SettingNaming } from '../options/settings';
import { DisabledGeoLocator, GeoLocator } from './geo-locator';
import { GeoDatabaseError, MaxMindGeoLocator } from './maxmind-geo-locator';

/** The CC0-packaged country database shipped as a dependency (data: RIRs via the NRO, CC BY 4.0). */
export const EMBEDDED_GEOIP_PACKAGE = '@ip-location-db/geo-whois-asn-country-mmdb';
const EMBEDDED_GEOIP_FILE = `${EMBEDDED_GEOIP_PACKAGE}/geo-whois-asn-country.mmdb`;

type GeoIpSource =
  | { readonly kind: 'off' }
  | { readonly kind: 'embedded' }
  | { readonly kind: 'file'; readonly path: string };

type GeoIpSettings = Pick<FingerprintAuthConfig, 'geoip' | 'geoipDbPath'>;

function geoIpSource(config: GeoIpSettings): GeoIpSource {
  if (!config.geoip) return { kind: 'off' };
  if (config.geoipDbPath) return { kind: 'file', path: resolve(config.geoipDbPath) };
  return { kind: 'embedded' };
}

function openEmbedded(name: SettingNamer): MaxMindGeoLocator {
  const problem = (reason: string) =>
    new InvalidConfigError([
      `${name('geoip')}: the embedded database (${EMBEDDED_GEOIP_PACKAGE}) ${reason}; reinstall the dependencies, set ${name('geoipDbPath')} to an MMDB file, or set ${name('geoip')} off`,
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

function openFile(path: string, name: SettingNamer): MaxMindGeoLocator {
  try {
    return MaxMindGeoLocator.open(path);
  } catch (error) {
    if (error instanceof GeoDatabaseError) {
      throw new InvalidConfigError([`${name('geoipDbPath')}: ${path} ${error.message}`]);
    }
    throw error;
  }
}

/**
 * Picks the locator from validated config and opens its database. Nothing is opened with geoip
 * off (a geoipDbPath is then ignored). A database that cannot serve is a configuration error
 * naming the setting as `naming` says (`InvalidConfigError`).
 */
export function createGeoLocator(
  config: GeoIpSettings,
  naming: SettingNaming = 'option',
): GeoLocator {
  const source = geoIpSource(config);
  const name = namer(naming);
  switch (source.kind) {
    case 'off':
      return new DisabledGeoLocator();
    case 'embedded':
      return openEmbedded(name);
    case 'file':
      return openFile(source.path, name);
    default: {
      const unknown: never = source;
      throw new Error(`Unknown GeoIP source: ${JSON.stringify(unknown)}`);
    }
  }
}

/** Says at start which database locates sessions. */
@Injectable()
export class GeoIpReport implements OnModuleInit {
  constructor(@Inject(GeoLocator) private readonly geo: GeoLocator) {}

  onModuleInit(): void {
    const logger = new Logger('GeoIp');
    if (this.geo instanceof MaxMindGeoLocator) {
      const { type, ipVersion, builtAt } = this.geo.database;
      logger.log(
        `Locating sessions with "${type}" (IPv${ipVersion}), built ${builtAt.toISOString().slice(0, 10)}`,
      );
    } else if (this.geo instanceof DisabledGeoLocator) {
      logger.log('GeoIP is off: sessions have no location');
    }
  }
}
