import type { SessionEntry, SessionLocation } from '../http/contract';
import { parseDevice } from './device';
import type { GeoLocation } from '../geoip/geo-location';
import { expiresAt, Session } from './session';

export type LocationView = SessionLocation;

/** A session as its owner sees it (`GET /sessions`, the contract's `SessionEntry`): no token, fingerprint or hash. */
export type SessionView = SessionEntry;

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });

export function locationView(location: GeoLocation | null): LocationView | null {
  if (location === null) return null;
  let countryName = location.country;
  try {
    countryName = regionNames.of(location.country) ?? location.country;
  } catch {
    // Not a code Intl knows; the code itself is the best name we have.
  }
  return {
    country: location.country,
    countryName,
    ...(location.region ? { region: location.region } : {}),
    ...(location.city ? { city: location.city } : {}),
  };
}

export const isoSeconds = (seconds: number): string => new Date(seconds * 1000).toISOString();

export function sessionView(session: Session, currentSessionId: string): SessionView {
  return {
    id: session.id,
    current: session.id === currentSessionId,
    device: parseDevice(session.userAgent),
    location: locationView(session.location),
    userAgent: session.userAgent,
    ipAddress: session.ipAddress,
    createdAt: isoSeconds(session.createdAt),
    lastActivity: isoSeconds(session.lastActivity),
    expiresAt: isoSeconds(expiresAt(session)),
  };
}
