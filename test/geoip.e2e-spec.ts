import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startApp, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';
import { runUntilExit } from './support/process';
import { deleteKeysWithPrefix, randomKeyPrefix } from './support/redis';
import { describeWithRedis } from './support/services';

const PASSWORD = 'correct horse battery staple';
const uniqueEmail = () => `geo-${Math.random().toString(36).slice(2)}@example.com`;

// Addresses checked against the embedded database (see maxmind-geo-locator.spec.ts).
const US = '8.8.8.8';
const US_V6 = '2001:4860:4860::8888';
const NL = '193.0.6.139';
const JP = '210.130.1.1';
const DE = '194.25.2.129';

interface SessionEntry {
  id: string;
  ipAddress: string;
  location: { country: string; countryName: string; region?: string; city?: string } | null;
}
interface Alert {
  code: string;
  sessionId?: string;
  country?: string;
}

const sessionsOf = async (client: TestClient) => {
  const response = await client.get('/sessions');
  expect(response.statusCode).toBe(200);
  return new Map(
    response.json<{ sessions: SessionEntry[] }>().sessions.map((session) => [session.id, session]),
  );
};
const newCountryAlerts = async (client: TestClient) => {
  const response = await client.get('/sessions/alerts');
  expect(response.statusCode).toBe(200);
  return response
    .json<{ alerts: Alert[] }>()
    .alerts.filter((alert) => alert.code === 'NEW_COUNTRY')
    .map(({ sessionId, country }) => ({ sessionId, country }))
    .sort((a, b) => String(a.country).localeCompare(String(b.country)));
};

describe('session location (e2e, GEOIP on, embedded database)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ TRUST_PROXY: 'true', GEOIP: 'on' });
  });

  afterAll(async () => {
    await target.close();
  });

  const loginFrom = async (email: string, ip: string): Promise<TestClient> => {
    // A second later than the sessions before it: NEW_COUNTRY compares with earlier sessions.
    target.clock.advance(1000);
    const client = new TestClient(target, { 'x-forwarded-for': ip });
    await client.login(email, PASSWORD);
    return client;
  };

  it('shows where each session is and raises NEW_COUNTRY for a session in another country', async () => {
    const email = uniqueEmail();
    const home = await signedInClient(target, email, PASSWORD, { 'x-forwarded-for': US });
    const homeV6 = await loginFrom(email, US_V6);
    expect(await newCountryAlerts(home)).toEqual([]);

    const abroad = await loginFrom(email, NL);
    const sessions = await sessionsOf(home);
    expect(sessions.size).toBe(3);
    expect(sessions.get(home.sessionId as string)).toMatchObject({
      ipAddress: US,
      location: { country: 'US', countryName: 'United States' },
    });
    expect(sessions.get(homeV6.sessionId as string)).toMatchObject({
      ipAddress: US_V6,
      location: { country: 'US', countryName: 'United States' },
    });
    expect(sessions.get(abroad.sessionId as string)).toMatchObject({
      ipAddress: NL,
      location: { country: 'NL', countryName: 'Netherlands' },
    });
    // The embedded database is country-level: no region or city is invented.
    expect(Object.keys(sessions.get(abroad.sessionId as string)?.location ?? {}).sort()).toEqual([
      'country',
      'countryName',
    ]);

    // Only the NL session is where none of the others is; every device sees the same alert.
    const expected = [{ sessionId: abroad.sessionId, country: 'NL' }];
    expect(await newCountryAlerts(home)).toEqual(expected);
    expect(await newCountryAlerts(abroad)).toEqual(expected);

    // Ending that session ends the alert.
    expect((await home.delete(`/sessions/${abroad.sessionId}`)).statusCode).toBe(204);
    expect(await newCountryAlerts(home)).toEqual([]);
  });

  it('two sessions in two countries: the later one is in a new country', async () => {
    const email = uniqueEmail();
    const first = await signedInClient(target, email, PASSWORD, { 'x-forwarded-for': DE });
    expect(await newCountryAlerts(first)).toEqual([]); // alone: nothing to compare with
    const second = await loginFrom(email, JP);
    expect(await newCountryAlerts(second)).toEqual([
      { sessionId: second.sessionId, country: 'JP' },
    ]);
  });

  it('compares live sessions only: an expired session abroad raises nothing', async () => {
    const email = uniqueEmail();
    const home = await signedInClient(target, email, PASSWORD, { 'x-forwarded-for': US });
    const abroad = await loginFrom(email, NL);
    expect(await newCountryAlerts(home)).toEqual([{ sessionId: abroad.sessionId, country: 'NL' }]);

    // Home keeps its session alive by refreshing; the one abroad goes idle past SESSION_IDLE_TTL.
    const idle = target.config.sessionIdleTtl * 1000;
    target.clock.advance(idle * 0.6);
    expect((await home.refresh()).statusCode).toBe(200);
    target.clock.advance(idle * 0.6);
    expect((await home.refresh()).statusCode).toBe(200);

    expect([...(await sessionsOf(home)).keys()]).toEqual([home.sessionId]);
    expect(await newCountryAlerts(home)).toEqual([]);
  });

  it('gives private and loopback addresses no location and no country alert', async () => {
    const email = uniqueEmail();
    const office = await signedInClient(target, email, PASSWORD, { 'x-forwarded-for': '10.1.2.3' });
    const local = await loginFrom(email, '::ffff:127.0.0.1');
    const sessions = await sessionsOf(office);
    expect(sessions.get(office.sessionId as string)?.location).toBeNull();
    expect(sessions.get(local.sessionId as string)?.location).toBeNull();
    expect(await newCountryAlerts(office)).toEqual([]);
  });

  it('locates again on refresh from a new address, never on an ordinary request', async () => {
    const client = await signedInClient(target, uniqueEmail(), PASSWORD, {
      'x-forwarded-for': US,
    });
    const id = client.sessionId as string;

    // Guarded requests from Japan record the address but do not look it up.
    client.headers['x-forwarded-for'] = JP;
    expect((await client.get('/auth/me')).statusCode).toBe(200);
    let session = (await sessionsOf(client)).get(id);
    expect(session).toMatchObject({ ipAddress: JP, location: { country: 'US' } });

    // The next refresh from there does, though the session's address is already the new one.
    expect((await client.refresh()).statusCode).toBe(200);
    session = (await sessionsOf(client)).get(id);
    expect(session).toMatchObject({ ipAddress: JP, location: { country: 'JP' } });

    // A refresh from yet another address moves it again.
    client.headers['x-forwarded-for'] = NL;
    expect((await client.refresh()).statusCode).toBe(200);
    session = (await sessionsOf(client)).get(id);
    expect(session).toMatchObject({ ipAddress: NL, location: { country: 'NL' } });
  });
});

describe('session location (e2e, GEOIP off)', () => {
  it('looks nothing up: a public address gives no location', async () => {
    const target = await startApp({ TRUST_PROXY: 'true', GEOIP: 'off' });
    try {
      const email = uniqueEmail();
      const client = await signedInClient(target, email, PASSWORD, { 'x-forwarded-for': US });
      const other = new TestClient(target, { 'x-forwarded-for': NL });
      await other.login(email, PASSWORD);
      const sessions = await sessionsOf(client);
      expect(sessions.get(client.sessionId as string)?.location).toBeNull();
      expect(sessions.get(other.sessionId as string)?.location).toBeNull();
      expect(await newCountryAlerts(client)).toEqual([]);
    } finally {
      await target.close();
    }
  });
});

/** The built service refuses to start on a bad GEOIP_DB_PATH. Ports 7400-7409. */
describe('GEOIP_DB_PATH at start-up (e2e, real process)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-geoip-e2e-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (geoipDbPath: string, port: number) =>
    runUntilExit({
      GEOIP_DB_PATH: geoipDbPath,
      DATABASE_URL: 'sqlite::memory:',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });

  it('refuses a missing file, naming the variable, without a stack trace', async () => {
    const missing = join(dir, 'GeoLite2-City.mmdb');
    const { code, output } = await start(missing, 7401);
    expect(code).toBe(1);
    expect(output).toContain(`GEOIP_DB_PATH: ${missing} does not exist`);
    expect(output).not.toMatch(/\n\s+at /);
    expect(output).not.toContain('listening');
  });

  it('refuses a file that is not an MMDB, naming the variable, without a stack trace', async () => {
    const text = join(dir, 'country.mmdb');
    writeFileSync(text, 'country_code\nUS\n'.repeat(64));
    const { code, output } = await start(text, 7402);
    expect(code).toBe(1);
    expect(output).toContain(`GEOIP_DB_PATH: ${text} is not a MaxMind DB (MMDB) file`);
    expect(output).not.toMatch(/\n\s+at /);
    expect(output).not.toContain('listening');
  });
});

describeWithRedis('session location (e2e, Redis mode)', (redisUrl) => {
  const prefix = randomKeyPrefix('geoip');
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({
      TRUST_PROXY: 'true',
      GEOIP: 'on',
      SESSION_STORE: 'redis',
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
    });
  });

  afterAll(async () => {
    await target.close();
    const redis = new Redis(redisUrl);
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  it('stores and lists both locations and raises NEW_COUNTRY for the newcomer', async () => {
    const email = uniqueEmail();
    const home = await signedInClient(target, email, PASSWORD, { 'x-forwarded-for': US });
    target.clock.advance(1000);
    const abroad = new TestClient(target, { 'x-forwarded-for': JP });
    await abroad.login(email, PASSWORD);

    const sessions = await sessionsOf(abroad);
    expect(sessions.get(home.sessionId as string)?.location).toEqual({
      country: 'US',
      countryName: 'United States',
    });
    expect(sessions.get(abroad.sessionId as string)?.location).toEqual({
      country: 'JP',
      countryName: 'Japan',
    });
    expect(await newCountryAlerts(home)).toEqual([{ sessionId: abroad.sessionId, country: 'JP' }]);

    // A refresh from a new country moves the stored location in Redis too.
    abroad.headers['x-forwarded-for'] = DE;
    expect((await abroad.refresh()).statusCode).toBe(200);
    expect((await sessionsOf(home)).get(abroad.sessionId as string)?.location).toMatchObject({
      country: 'DE',
    });
  });
});
