import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GeoLocationPool } from './geo-location-pool';
import { GeoDatabaseError, MaxMindGeoLocator, toGeoLocation } from './maxmind-geo-locator';

const PACKAGE_DIR = dirname(
  require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/package.json'),
);
const EMBEDDED = join(PACKAGE_DIR, 'geo-whois-asn-country.mmdb');
const EMBEDDED_IPV4_ONLY = join(PACKAGE_DIR, 'geo-whois-asn-country-ipv4.mmdb');

describe('MaxMindGeoLocator over the shipped country database', () => {
  let geo: MaxMindGeoLocator;

  beforeAll(() => {
    geo = MaxMindGeoLocator.open(EMBEDDED);
  });

  it('reports what the database says about itself', () => {
    expect(geo.database).toEqual({
      type: 'country ipvAll',
      ipVersion: 6,
      builtAt: expect.any(Date),
    });
  });

  // Well-known addresses, each checked against this database: public DNS resolvers and the
  // regional registries' own web servers.
  it.each([
    ['8.8.8.8', 'US'], // Google Public DNS
    ['2001:4860:4860::8888', 'US'],
    ['193.0.6.139', 'NL'], // www.ripe.net
    ['2001:67c:2e8:22::c100:68b', 'NL'],
    ['194.25.2.129', 'DE'], // Deutsche Telekom DNS
    ['210.130.1.1', 'JP'], // IIJ
    ['2001:240::1', 'JP'],
    ['101.101.101.101', 'TW'], // TWNIC Quad101
    ['2001:b000:168::1', 'TW'],
    ['168.126.63.1', 'KR'], // KT DNS
    ['77.88.8.8', 'RU'], // Yandex DNS
    ['2a02:6b8::feed:0ff', 'RU'],
    ['::ffff:8.8.8.8', 'US'], // IPv4-mapped: looked up as 8.8.8.8
    ['::ffff:c100:68b', 'NL'],
  ])('locates %s in %s', (ip, country) => {
    expect(geo.locate(ip)).toEqual({ country });
  });

  it.each([
    '10.0.0.1',
    '192.168.1.10',
    '172.16.5.4',
    '127.0.0.1',
    '169.254.1.1',
    '0.0.0.0',
    '240.0.0.1',
    '224.0.0.251',
    '198.51.100.20',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'ff02::1',
    '2001:db8::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    'not-an-ip',
    '',
    '999.1.1.1',
  ])('gives null for %p', (ip) => {
    expect(geo.locate(ip)).toBeNull();
  });

  it('returns one shared object per country, however many sessions ask', () => {
    const results = ['8.8.8.8', '9.9.9.9', '2001:4860:4860::8888', '::ffff:8.8.8.8'].map((ip) =>
      geo.locate(ip),
    );
    expect(results.every((result) => result === results[0])).toBe(true);
    expect(Object.isFrozen(results[0])).toBe(true);
  });
});

describe('MaxMindGeoLocator over an IPv4-only database', () => {
  it('locates IPv4 and gives null for IPv6 rather than misreading its first 32 bits', () => {
    const geo = MaxMindGeoLocator.open(EMBEDDED_IPV4_ONLY);
    expect(geo.database.ipVersion).toBe(4);
    expect(geo.locate('193.0.6.139')).toEqual({ country: 'NL' });
    expect(geo.locate('::ffff:193.0.6.139')).toEqual({ country: 'NL' });
    expect(geo.locate('2001:67c:2e8:22::c100:68b')).toBeNull();
  });
});

describe('MaxMindGeoLocator.open on files that are no database', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-geoip-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const failure = (path: string): string => {
    try {
      MaxMindGeoLocator.open(path);
    } catch (error) {
      expect(error).toBeInstanceOf(GeoDatabaseError);
      return (error as Error).message;
    }
    throw new Error(`${path} opened`);
  };

  it('says what is wrong', () => {
    const text = join(dir, 'notes.mmdb');
    writeFileSync(text, 'this is not a MaxMind database\n'.repeat(100));
    const empty = join(dir, 'empty.mmdb');
    writeFileSync(empty, '');
    const truncated = join(dir, 'truncated.mmdb');
    // The metadata survives at the end, but the search tree it describes is gone.
    const whole = readFileSync(EMBEDDED_IPV4_ONLY);
    writeFileSync(truncated, whole.subarray(whole.length - 4096));
    const gzipped = join(dir, 'country.mmdb.gz');
    writeFileSync(gzipped, gzipSync(whole.subarray(0, 65536)));

    expect(failure(join(dir, 'missing.mmdb'))).toBe('does not exist');
    expect(failure(dir)).toMatch(/directory/);
    expect(failure(text)).toMatch(/not a MaxMind DB \(MMDB\) file/);
    expect(failure(empty)).toMatch(/not a MaxMind DB \(MMDB\) file/);
    expect(failure(truncated)).toMatch(/not a (usable )?MaxMind DB/);
    expect(failure(gzipped)).toMatch(/gzip/);
  });
});

describe('toGeoLocation', () => {
  let pool: GeoLocationPool;

  beforeEach(() => {
    pool = new GeoLocationPool();
  });

  it('reads the ip-location-db layout', () => {
    expect(toGeoLocation({ country_code: 'NL' }, pool)).toEqual({ country: 'NL' });
    expect(
      toGeoLocation(
        { country_code: 'JP', state1: 'Tokyo', city: 'Chiyoda', latitude: 35.69 },
        pool,
      ),
    ).toEqual({ country: 'JP', region: 'Tokyo', city: 'Chiyoda' });
  });

  // Shaped like a GeoLite2-City record (as maxmind's reader returns it); no such file ships here.
  const geoLite2City = {
    city: { geoname_id: 2643743, names: { de: 'London', en: 'London', ja: 'ロンドン' } },
    continent: { code: 'EU', geoname_id: 6255148, names: { en: 'Europe' } },
    country: {
      geoname_id: 2635167,
      is_in_european_union: false,
      iso_code: 'GB',
      names: { en: 'United Kingdom' },
    },
    location: {
      accuracy_radius: 20,
      latitude: 51.5164,
      longitude: -0.093,
      time_zone: 'Europe/London',
    },
    postal: { code: 'EC2V' },
    registered_country: { geoname_id: 2635167, iso_code: 'GB', names: { en: 'United Kingdom' } },
    subdivisions: [
      { geoname_id: 6269131, iso_code: 'ENG', names: { en: 'England', fr: 'Angleterre' } },
      { geoname_id: 3333218, iso_code: 'LND', names: { en: 'City of London' } },
    ],
  };

  it('reads the MaxMind GeoLite2 / DB-IP layout: country, first subdivision, city in English', () => {
    const london = toGeoLocation(geoLite2City, pool);
    expect(london).toEqual({ country: 'GB', region: 'England', city: 'London' });
    expect(toGeoLocation(structuredClone(geoLite2City), pool)).toBe(london);
  });

  it('reads a GeoLite2-Country record and DB-IP records without subdivisions or city', () => {
    const { country, continent, registered_country } = geoLite2City;
    expect(toGeoLocation({ country, continent, registered_country }, pool)).toEqual({
      country: 'GB',
    });
    expect(toGeoLocation({ country: { iso_code: 'FR' }, subdivisions: [] }, pool)).toEqual({
      country: 'FR',
    });
    expect(
      toGeoLocation(
        { country: { iso_code: 'US' }, subdivisions: [{ names: { en: 'California' } }] },
        pool,
      ),
    ).toEqual({ country: 'US', region: 'California' });
    expect(
      toGeoLocation({ country: { iso_code: 'US' }, city: { names: { en: '' } } }, pool),
    ).toEqual({ country: 'US' });
  });

  it('gives null for records that name no country', () => {
    expect(toGeoLocation(null, pool)).toBeNull();
    expect(toGeoLocation('GB', pool)).toBeNull();
    expect(toGeoLocation([], pool)).toBeNull();
    expect(toGeoLocation({}, pool)).toBeNull();
    expect(toGeoLocation({ autonomous_system_number: 15169 }, pool)).toBeNull();
    // Only where the network is registered: not where the client is.
    expect(toGeoLocation({ registered_country: { iso_code: 'US' } }, pool)).toBeNull();
    expect(toGeoLocation({ country_code: 'GBR' }, pool)).toBeNull();
    expect(toGeoLocation({ country_code: 42 }, pool)).toBeNull();
    expect(toGeoLocation({ country: { iso_code: '' } }, pool)).toBeNull();
    expect(toGeoLocation({ country: { names: { en: 'France' } } }, pool)).toBeNull();
  });

  it('upper-cases the code and bounds over-long names', () => {
    const location = toGeoLocation(
      { country: { iso_code: 'de' }, city: { names: { en: `  ${'B'.repeat(500)}  ` } } },
      pool,
    );
    expect(location?.country).toBe('DE');
    expect(location?.city).toHaveLength(128);
  });
});
