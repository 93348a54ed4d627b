import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidConfigError, validateEnv } from '../config';
import { DisabledGeoLocator, GeoLocator } from './geo-locator';
import { createGeoLocator } from './geo-locator.factory';
import { MaxMindGeoLocator } from './maxmind-geo-locator';

const IPV4_ONLY_DATABASE = join(
  dirname(require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/package.json')),
  'geo-whois-asn-country-ipv4.mmdb',
);

async function locatorFor(raw: Record<string, string>): Promise<GeoLocator> {
  return createGeoLocator(validateEnv(raw), 'env');
}

function configProblems(raw: Record<string, string>): string[] {
  try {
    createGeoLocator(validateEnv(raw), 'env');
  } catch (error) {
    if (error instanceof InvalidConfigError) return error.problems;
    throw error;
  }
  throw new Error('the locator was made');
}

describe('createGeoLocator', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-geoip-module-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('GEOIP=off: provides the disabled locator, opens nothing, locates nothing', async () => {
    const geo = await locatorFor({ GEOIP: 'off' });
    expect(geo).toBeInstanceOf(DisabledGeoLocator);
    expect(geo.locate('8.8.8.8')).toBeNull();
    expect(geo.locate('2001:4860:4860::8888')).toBeNull();

    // A path that is no database at all is never opened while the feature is off.
    const offWithBadPath = await locatorFor({
      GEOIP: 'off',
      GEOIP_DB_PATH: join(dir, 'missing.mmdb'),
    });
    expect(offWithBadPath.locate('8.8.8.8')).toBeNull();
  });

  it('by default opens the embedded country database', async () => {
    const geo = await locatorFor({});
    expect(geo).toBeInstanceOf(MaxMindGeoLocator);
    expect((geo as MaxMindGeoLocator).database.type).toBe('country ipvAll');
    expect(geo.locate('8.8.8.8')).toEqual({ country: 'US' });
    expect(geo.locate('192.168.0.1')).toBeNull();
  });

  it('GEOIP_DB_PATH opens that database instead', async () => {
    const geo = await locatorFor({ GEOIP_DB_PATH: IPV4_ONLY_DATABASE });
    expect((geo as MaxMindGeoLocator).database).toMatchObject({
      type: 'country ipv4',
      ipVersion: 4,
    });
    expect(geo.locate('193.0.6.139')).toEqual({ country: 'NL' });
  });

  it('refuses a GEOIP_DB_PATH that is missing or not an MMDB, naming the variable', () => {
    const missing = join(dir, 'GeoLite2-City.mmdb');
    expect(configProblems({ GEOIP_DB_PATH: missing })).toEqual([
      `GEOIP_DB_PATH: ${missing} does not exist`,
    ]);

    const text = join(dir, 'readme.mmdb');
    writeFileSync(text, 'not a database\n');
    expect(configProblems({ GEOIP_DB_PATH: text })).toEqual([
      `GEOIP_DB_PATH: ${text} is not a MaxMind DB (MMDB) file`,
    ]);
  });
});
