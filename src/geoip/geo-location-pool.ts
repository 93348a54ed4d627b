import type { GeoLocation } from './geo-location';

/** Distinct (country, region, city) places kept for sharing; the least recently used goes first. */
export const DEFAULT_MAX_PLACES = 10_000;

/**
 * Hands out shared, frozen GeoLocation objects so a million sessions hold a few hundred of them,
 * not a million: one per country code (there are fewer than 700 two-letter codes), and a bounded
 * cache of city-level places. A place dropped from the cache stays valid on the sessions holding
 * it; the next lookup of it only makes a new shared object.
 */
export class GeoLocationPool {
  private readonly countries = new Map<string, GeoLocation>();
  private readonly places = new Map<string, GeoLocation>();

  constructor(private readonly maxPlaces = DEFAULT_MAX_PLACES) {}

  /** The shared location; `country` must already be an upper-case ISO 3166-1 alpha-2 code. */
  location(country: string, region?: string, city?: string): GeoLocation {
    if (region === undefined && city === undefined) return this.countryOnly(country);
    const key = `${country}\u0000${region ?? ''}\u0000${city ?? ''}`;
    const known = this.places.get(key);
    if (known !== undefined) {
      // Re-inserting moves the key to the end of the Map's order: most recently used.
      this.places.delete(key);
      this.places.set(key, known);
      return known;
    }
    if (this.places.size >= this.maxPlaces) {
      const oldest = this.places.keys().next().value as string;
      this.places.delete(oldest);
    }
    const place: GeoLocation = Object.freeze({
      country,
      ...(region !== undefined ? { region } : {}),
      ...(city !== undefined ? { city } : {}),
    });
    this.places.set(key, place);
    return place;
  }

  /** How many shared objects the pool holds now. */
  get size(): { countries: number; places: number } {
    return { countries: this.countries.size, places: this.places.size };
  }

  private countryOnly(country: string): GeoLocation {
    let location = this.countries.get(country);
    if (location === undefined) {
      location = Object.freeze({ country });
      this.countries.set(country, location);
    }
    return location;
  }
}
