/** Where a session's IP address resolves to; `null` on the session when unknown or private. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2 code, e.g. `GB`. */
  readonly country: string;
  readonly region?: string;
  readonly city?: string;
}
