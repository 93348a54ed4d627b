import { readFileSync } from 'node:fs';
import { Reader, Response } from 'maxmind';
import type { GeoLocation } from './geo-location';
import { GeoLocationPool } from './geo-location-pool';
import { GeoLocator } from './geo-locator';
import { publicAddress } from './ip-address';

/** Why a database file cannot serve lookups; the caller adds which setting named the file. */
export class GeoDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GeoDatabaseError';
  }
}

/** What the opened database says about itself (its metadata). */
export interface GeoDatabaseInfo {
  readonly type: string;
  readonly builtAt: Date;
  readonly ipVersion: 4 | 6;
}

/** The metadata separator between search tree and data section (MaxMind DB spec). */
const DATA_SECTION_SEPARATOR_SIZE = 16;
/** Longest region or city name kept; real ones are far shorter. */
const MAX_NAME_LENGTH = 128;
const COUNTRY_CODE = /^[A-Za-z]{2}$/;

type Fields = Record<string, unknown>;
const isFields = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const name = (value: unknown): string | undefined => {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim().slice(0, MAX_NAME_LENGTH);
  return trimmed === '' ? undefined : trimmed;
};
const englishName = (value: unknown): string | undefined =>
  isFields(value) && isFields(value.names) ? name(value.names.en) : undefined;

/**
 * Maps one MMDB record to a shared location, for both record layouts in use:
 * - ip-location-db: `{ country_code, state1?, city? }` (its city databases add the names);
 * - MaxMind GeoLite2/GeoIP2 and DB-IP: `{ country: { iso_code }, subdivisions: [{ names: { en } }],
 *   city: { names: { en } } }`.
 * Null when the record names no country (for example only `registered_country`: where the
 * network is registered says little about where the client is).
 */
export function toGeoLocation(record: unknown, pool: GeoLocationPool): GeoLocation | null {
  if (!isFields(record)) return null;
  let country: unknown;
  let region: string | undefined;
  let city: string | undefined;
  if (record.country_code !== undefined) {
    country = record.country_code;
    region = name(record.state1);
    city = name(record.city);
  } else if (isFields(record.country)) {
    country = record.country.iso_code;
    region = Array.isArray(record.subdivisions) ? englishName(record.subdivisions[0]) : undefined;
    city = englishName(record.city);
  }
  if (typeof country !== 'string' || !COUNTRY_CODE.test(country)) return null;
  return pool.location(country.toUpperCase(), region, city);
}

/** Reads and checks a database file; `GeoDatabaseError` says what is wrong with it. */
function readDatabase(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GeoDatabaseError('does not exist');
    if (code === 'EISDIR') throw new GeoDatabaseError('is a directory, not an MMDB file');
    throw new GeoDatabaseError(`cannot be read (${code ?? 'unknown error'})`);
  }
}

function checkedReader(buffer: Buffer): Reader<Response> {
  if (buffer[0] === 0x1f && buffer[1] === 0x8b) {
    throw new GeoDatabaseError('is gzip-compressed: decompress it and point at the .mmdb file');
  }
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(buffer);
  } catch {
    throw new GeoDatabaseError('is not a MaxMind DB (MMDB) file');
  }
  const { binaryFormatMajorVersion, ipVersion, nodeCount, searchTreeSize } = reader.metadata;
  if (
    binaryFormatMajorVersion !== 2 ||
    (ipVersion !== 4 && ipVersion !== 6) ||
    !(nodeCount > 0) ||
    searchTreeSize + DATA_SECTION_SEPARATOR_SIZE > buffer.length
  ) {
    throw new GeoDatabaseError('is not a usable MaxMind DB (MMDB) version 2 file');
  }
  return reader;
}

/**
 * Looks client addresses up in a MaxMind DB file held in memory: the embedded ip-location-db
 * country database, or GeoLite2 / DB-IP files that add region and city. Offline: the file is read
 * once at start; a lookup is a walk of the in-memory search tree.
 */
export class MaxMindGeoLocator extends GeoLocator {
  readonly database: GeoDatabaseInfo;

  private constructor(
    private readonly reader: Reader<Response>,
    private readonly pool: GeoLocationPool,
  ) {
    super();
    const { databaseType, buildEpoch, ipVersion } = reader.metadata;
    this.database = {
      type: String(databaseType),
      builtAt: buildEpoch,
      ipVersion: ipVersion === 4 ? 4 : 6,
    };
  }

  /** Reads the whole file and checks its metadata; `GeoDatabaseError` when it cannot serve. */
  static open(path: string, pool = new GeoLocationPool()): MaxMindGeoLocator {
    return new MaxMindGeoLocator(checkedReader(readDatabase(path)), pool);
  }

  locate(ipAddress: string): GeoLocation | null {
    const address = publicAddress(ipAddress);
    if (address === null) return null;
    // An IPv4-only tree would read an IPv6 address's first 32 bits as an IPv4 one: a wrong answer.
    if (this.database.ipVersion === 4 && address.includes(':')) return null;
    try {
      return toGeoLocation(this.reader.get(address), this.pool);
    } catch {
      // A damaged data section costs the location, never the login that asked for it.
      return null;
    }
  }
}
