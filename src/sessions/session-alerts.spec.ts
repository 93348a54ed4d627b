import { Session } from './session';
import { sessionAlerts } from './session-alerts';

const thresholds = { maxSessions: 5, maxIpAddresses: 3 };
let n = 0;
const session = (overrides: Partial<Session> = {}): Session => ({
  id: `s${++n}`,
  userId: 'u',
  fingerprintHash: 'f',
  refreshHash: 'r',
  previousRefreshHash: null,
  refreshRotatedAt: 0,
  ipAddress: '203.0.113.1',
  userAgent: 'UA',
  location: null,
  loginIpAddress: null,
  loginUserAgent: null,
  createdAt: 0,
  lastActivity: 0,
  idleExpiresAt: 10,
  absoluteExpiresAt: 10,
  ...overrides,
});
const codes = (sessions: Session[]) =>
  sessionAlerts(sessions, thresholds).map((alert) => alert.code);

describe('sessionAlerts', () => {
  it('says nothing about an ordinary user', () => {
    expect(codes([session(), session()])).toEqual([]);
  });

  it('flags more live sessions than the threshold, not the threshold itself', () => {
    expect(codes(Array.from({ length: 5 }, () => session()))).toEqual([]);
    expect(codes(Array.from({ length: 6 }, () => session()))).toEqual(['TOO_MANY_SESSIONS']);
  });

  it('flags more distinct IP addresses than the threshold', () => {
    const from = (ip: string) => session({ ipAddress: ip });
    expect(codes([from('a'), from('b'), from('c')])).toEqual([]);
    expect(codes([from('a'), from('b'), from('c'), from('d'), from('a')])).toEqual([
      'MANY_IP_ADDRESSES',
    ]);
  });

  it('flags sessions whose IP or browser changed since login', () => {
    const moved = session({ loginIpAddress: '198.51.100.1' });
    const switched = session({ loginUserAgent: 'Old/1.0' });
    const alerts = sessionAlerts([moved, switched, session()], thresholds);
    expect(alerts).toEqual([
      expect.objectContaining({ code: 'IP_ADDRESS_CHANGED', sessionId: moved.id }),
      expect.objectContaining({ code: 'USER_AGENT_CHANGED', sessionId: switched.id }),
    ]);
  });

  it('flags a session in a country none of the other sessions is in', () => {
    const gb = session({ location: { country: 'GB' } });
    const gb2 = session({ location: { country: 'GB' } });
    const jp = session({ location: { country: 'JP' } });
    expect(sessionAlerts([gb, gb2, jp], thresholds)).toEqual([
      expect.objectContaining({ code: 'NEW_COUNTRY', sessionId: jp.id, country: 'JP' }),
    ]);
    expect(codes([jp])).toEqual([]);
  });

  it('NEW_COUNTRY: a located session in a country none of the earlier sessions is in', () => {
    let created = 0;
    const at = (country: string | null) =>
      session({ location: country === null ? null : { country }, createdAt: ++created });
    const newCountry = (sessions: Session[]) =>
      sessionAlerts(sessions, thresholds)
        .filter((alert) => alert.code === 'NEW_COUNTRY')
        .map((alert) => alert.country);
    expect(newCountry([at('US'), at('US')])).toEqual([]);
    expect(newCountry([at(null), at(null)])).toEqual([]);
    // Only the newcomer is flagged, whatever order the store lists them in.
    const us = at('US');
    const jp = at('JP');
    expect(newCountry([us, jp])).toEqual(['JP']);
    expect(newCountry([jp, us])).toEqual(['JP']);
    // An earlier session without a location (private address, GEOIP off) is in no country.
    expect(newCountry([at(null), at('US')])).toEqual(['US']);
    expect(newCountry([at('US'), at(null)])).toEqual([]);
    // A third country is new even when two are known already.
    expect(newCountry([at('US'), at('JP'), at('US'), at('DE')])).toEqual(['JP', 'DE']);
  });
});
