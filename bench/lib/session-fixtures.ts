import { randomBytes, randomUUID } from 'node:crypto';
import type { GeoLocation } from '../../src/geoip/geo-location';
import { NewSession } from '../../src/sessions/session';
import { newSessionId } from '../../src/sessions/session-id';

/** A handful of real-world user agents: most sessions share one of a few browsers. */
export const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
];

export const IP_ADDRESSES = [
  '203.0.113.7',
  '198.51.100.23',
  '192.0.2.41',
  '2001:db8::1f',
  '203.0.113.200',
  '198.51.100.99',
];

/** One frozen object per country, shared by every session there (as the GeoIP locator hands them out). */
const COUNTRIES: readonly GeoLocation[] = ['GB', 'DE', 'US', 'FR', 'NL'].map((country) =>
  Object.freeze({ country }),
);

/**
 * A user id as the users table hands it back: a flat 36-character string. (`randomUUID()` builds
 * its result by concatenation, a tree of about 14 cons strings, ~500 heap bytes; a row read from
 * the database is one flat string.)
 */
const flatUuid = (): string => Buffer.from(randomUUID(), 'latin1').toString('latin1');

/**
 * The service's own id function. Typed to take the user id: a build whose ids carry the user's
 * shard needs it, one whose ids are purely random ignores it.
 */
const sessionIdFor = newSessionId as (userId: string) => string;

/**
 * Produces `NewSession`s shaped like real logins: 22-character ids from the service's own id
 * function, one UUID per user (as the users table has), 43-character base64url hashes, a few
 * user agents and addresses, and a location on 60% of them.
 */
export class SessionFixtures {
  private userId = flatUuid();
  private made = 0;
  private random = Buffer.alloc(0);
  private offset = 0;

  constructor(private readonly perUser: number) {}

  next(): NewSession {
    if (this.made > 0 && this.made % this.perUser === 0) this.userId = flatUuid();
    const n = this.made++;
    return {
      id: sessionIdFor(this.userId),
      userId: this.userId,
      fingerprintHash: this.hash(),
      refreshHash: this.hash(),
      ipAddress: IP_ADDRESSES[n % IP_ADDRESSES.length],
      userAgent: USER_AGENTS[(n >> 1) % USER_AGENTS.length],
      location: n % 5 < 3 ? COUNTRIES[n % COUNTRIES.length] : null,
    };
  }

  /** 43 base64url characters from 32 random bytes: the shape (and entropy) of a SHA-256 hash. */
  private hash(): string {
    if (this.offset + 32 > this.random.length) {
      this.random = randomBytes(32 * 4096);
      this.offset = 0;
    }
    const value = this.random.toString('base64url', this.offset, this.offset + 32);
    this.offset += 32;
    return value;
  }
}
