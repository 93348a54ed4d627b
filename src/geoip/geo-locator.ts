import type { GeoLocation } from './geo-location';

/** Resolves a client IP address to where it is, offline. */
export abstract class GeoLocator {
  /** The location of a public address; null for private, loopback, reserved, malformed or unknown ones. */
  abstract locate(ipAddress: string): GeoLocation | null;
}

/** GEOIP=off: no database is opened and nothing is ever looked up. */
export class DisabledGeoLocator extends GeoLocator {
  locate(): null {
    return null;
  }
}
