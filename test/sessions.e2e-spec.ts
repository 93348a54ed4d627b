import { startApp, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';
import { expectLimitHoldsUnderConcurrentLogins } from './support/session-limit';

const PASSWORD = 'correct horse battery staple';
const uniqueEmail = () => `s-${Math.random().toString(36).slice(2)}@example.com`;

const LAPTOP =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
const TABLET =
  'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1';

interface SessionEntry {
  id: string;
  current: boolean;
  device: { browser: string | null; os: string | null; type: string };
  ipAddress: string;
  userAgent: string;
  location: unknown;
  createdAt: string;
  lastActivity: string;
  expiresAt: string;
}

async function devices(target: TestApp, email = uniqueEmail()) {
  const laptop = await signedInClient(target, email, PASSWORD, {
    'user-agent': LAPTOP,
    'x-forwarded-for': '203.0.113.10',
  });
  const phone = new TestClient(target, { 'user-agent': PHONE, 'x-forwarded-for': '198.51.100.20' });
  await phone.login(email, PASSWORD);
  const tablet = new TestClient(target, { 'user-agent': TABLET, 'x-forwarded-for': '192.0.2.30' });
  await tablet.login(email, PASSWORD);
  return { email, laptop, phone, tablet };
}

describe('sessions (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ TRUST_PROXY: 'true' });
  });

  afterAll(async () => {
    await target.close();
  });

  it('shows each device all three sessions, the right one marked current, newest activity first', async () => {
    const { laptop, phone, tablet } = await devices(target);
    target.clock.advance(120_000);
    expect((await phone.get('/auth/me')).statusCode).toBe(200);

    const fromPhone = (await phone.get('/sessions')).json<{ sessions: SessionEntry[] }>().sessions;
    expect(fromPhone[0].id).toBe(phone.sessionId);

    for (const client of [laptop, phone, tablet]) {
      const response = await client.get('/sessions');
      expect(response.statusCode).toBe(200);
      const sessions = response.json<{ sessions: SessionEntry[] }>().sessions;
      expect(sessions).toHaveLength(3);
      expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([client.sessionId]);
      const activity = sessions.map((s) => Date.parse(s.lastActivity));
      expect(activity).toEqual([...activity].sort((a, b) => b - a));
    }

    const sessions = (await laptop.get('/sessions')).json<{ sessions: SessionEntry[] }>().sessions;
    const byId = new Map(sessions.map((s) => [s.id, s]));
    expect(byId.get(laptop.sessionId as string)).toMatchObject({
      device: { browser: 'Chrome 120', os: 'macOS 10.15.7', type: 'desktop' },
      ipAddress: '203.0.113.10',
      userAgent: LAPTOP,
      location: null,
    });
    expect(byId.get(phone.sessionId as string)).toMatchObject({
      device: { browser: 'Mobile Safari 17', os: 'iOS 17.1', type: 'mobile' },
      ipAddress: '198.51.100.20',
    });
    expect(byId.get(tablet.sessionId as string)).toMatchObject({
      device: { type: 'tablet' },
      ipAddress: '192.0.2.30',
    });
    for (const entry of sessions) {
      expect(Object.keys(entry).sort()).toEqual(
        [
          'createdAt',
          'current',
          'device',
          'expiresAt',
          'id',
          'ipAddress',
          'lastActivity',
          'location',
          'userAgent',
        ].sort(),
      );
      expect(Date.parse(entry.expiresAt)).toBeGreaterThan(Date.parse(entry.lastActivity));
    }
    const raw = (await laptop.get('/sessions')).body;
    for (const client of [laptop, phone, tablet]) {
      for (const cookie of client.cookies.values()) expect(raw).not.toContain(cookie.value);
      expect(raw).not.toContain(client.accessToken);
    }
  });

  it("never shows another user's sessions", async () => {
    const alice = await signedInClient(target);
    const bob = await signedInClient(target);
    const listed = (await alice.get('/sessions')).json<{ sessions: SessionEntry[] }>().sessions;
    expect(listed.map((s) => s.id)).toEqual([alice.sessionId]);
    expect(listed.map((s) => s.id)).not.toContain(bob.sessionId);
  });

  it('DELETE /sessions/:id ends exactly that session, on its very next request', async () => {
    const { laptop, phone, tablet } = await devices(target);
    const response = await laptop.delete(`/sessions/${phone.sessionId}`);
    expect(response.statusCode).toBe(204);
    // Another session's end leaves the caller's cookies alone.
    expect(response.headers['set-cookie']).toBeUndefined();
    expect((await phone.get('/auth/me')).statusCode).toBe(401);
    expect((await laptop.get('/auth/me')).statusCode).toBe(200);
    expect((await tablet.get('/auth/me')).statusCode).toBe(200);
    const ids = (await laptop.get('/sessions'))
      .json<{ sessions: SessionEntry[] }>()
      .sessions.map((s) => s.id);
    expect(ids.sort()).toEqual([laptop.sessionId, tablet.sessionId].sort());
  });

  it('DELETE of the current session logs the caller out and clears the cookies, as logout does', async () => {
    const client = await signedInClient(target);
    const response = await client.delete(`/sessions/${client.sessionId}`);
    expect(response.statusCode).toBe(204);
    const cleared = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
    expect(cleared).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^__Host-Fgp=;.*Max-Age=0;.*Path=\/;.*HttpOnly;.*Secure/),
        expect.stringMatching(/^__Secure-Fpa-Refresh=;.*Max-Age=0;.*Path=\/auth\/refresh/),
      ]),
    );
    expect(cleared).toHaveLength(2);
    expect([...client.cookies.keys()]).toEqual([]);
    expect((await client.get('/auth/me')).statusCode).toBe(401);
  });

  it("answers 404 alike for unknown, malformed and other users' sessions, changing nothing", async () => {
    const alice = await signedInClient(target);
    const bob = await signedInClient(target);
    const answers = [];
    for (const id of [
      bob.sessionId,
      'AAAAAAAAAAAAAAAAAAAAAA',
      '..%2F..%2Fetc',
      'x'.repeat(150),
      '%7B%7D',
    ]) {
      const response = await alice.delete(`/sessions/${id}`);
      answers.push({ status: response.statusCode, body: response.body });
    }
    expect(answers[0].status).toBe(404);
    expect(answers[0].body).toBe(answers[1].body);
    for (const answer of answers) expect(answer.status).toBe(404);
    expect((await bob.get('/auth/me')).statusCode).toBe(200);
  });

  it('POST /sessions/logout-all leaves only the caller', async () => {
    const { laptop, phone, tablet } = await devices(target);
    const response = await tablet.post('/sessions/logout-all');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ revoked: 2 });
    expect((await laptop.get('/auth/me')).statusCode).toBe(401);
    expect((await phone.get('/auth/me')).statusCode).toBe(401);
    expect((await tablet.get('/auth/me')).statusCode).toBe(200);
    const ids = (await tablet.get('/sessions'))
      .json<{ sessions: SessionEntry[] }>()
      .sessions.map((s) => s.id);
    expect(ids).toEqual([tablet.sessionId]);
  });

  it('GET /sessions/alerts reports sessions whose IP or browser changed since login', async () => {
    const client = await signedInClient(target, uniqueEmail(), PASSWORD, {
      'user-agent': LAPTOP,
      'x-forwarded-for': '203.0.113.10',
    });
    expect((await client.get('/sessions/alerts')).json()).toEqual({ alerts: [] });
    await client.get('/auth/me', { 'x-forwarded-for': '198.51.100.99' });
    const alerts = (await client.get('/sessions/alerts')).json<{
      alerts: Array<{ code: string; sessionId?: string }>;
    }>().alerts;
    expect(alerts).toEqual([
      expect.objectContaining({ code: 'IP_ADDRESS_CHANGED', sessionId: client.sessionId }),
    ]);
    // Detection only: the session keeps working.
    expect((await client.get('/auth/me', { 'x-forwarded-for': '198.51.100.99' })).statusCode).toBe(
      200,
    );
  });

  it('requires a valid token and cookie for every sessions route', async () => {
    for (const [method, url] of [
      ['GET', '/sessions'],
      ['GET', '/sessions/alerts'],
      ['POST', '/sessions/logout-all'],
      ['DELETE', '/sessions/AAAAAAAAAAAAAAAAAAAAAA'],
    ] as const) {
      expect((await target.inject({ method, url })).statusCode).toBe(401);
    }
  });

  describe('refresh', () => {
    it('rotates the refresh credential and fingerprint for the same session', async () => {
      const client = await signedInClient(target);
      const before = { ...Object.fromEntries([...client.cookies].map(([k, v]) => [k, v.value])) };
      const oldToken = client.accessToken;
      const sessionId = client.sessionId;
      target.clock.advance(10 * 60_000);

      const response = await client.refresh();
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      const body = response.json();
      expect(body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, sessionId });
      expect(body.accessToken).not.toBe(oldToken);
      expect(client.cookies.get('__Host-Fgp')?.value).not.toBe(before['__Host-Fgp']);
      expect(client.cookies.get('__Secure-Fpa-Refresh')?.value).not.toBe(
        before['__Secure-Fpa-Refresh'],
      );
      expect((await client.get('/auth/me')).statusCode).toBe(200);

      // The old token is bound to the old fingerprint: dead now.
      const stale = new TestClient(target);
      stale.accessToken = oldToken;
      stale.cookies.set('__Host-Fgp', { value: before['__Host-Fgp'], path: '/' });
      expect((await stale.get('/auth/me')).statusCode).toBe(401);
    });

    it('slides the idle expiry but never past the absolute lifetime', async () => {
      const client = await signedInClient(target);
      const first = Date.parse((await client.refresh()).json().sessionExpiresAt);
      target.clock.advance(20 * 60_000);
      const second = Date.parse((await client.refresh()).json().sessionExpiresAt);
      expect(second - first).toBe(20 * 60_000);
      for (let i = 0; i < 24; i++) {
        target.clock.advance(20 * 60_000);
        const response = await client.refresh();
        if (response.statusCode !== 200) {
          expect(i).toBeGreaterThanOrEqual(22);
          expect(response.statusCode).toBe(401);
          return;
        }
      }
      throw new Error('the session outlived its absolute lifetime');
    });

    it('revokes the whole session when an old refresh credential is replayed after the grace period', async () => {
      const client = await signedInClient(target);
      const stolen = client.cookies.get('__Secure-Fpa-Refresh')?.value as string;
      expect((await client.refresh()).statusCode).toBe(200);
      target.clock.advance(60_000);

      const thief = new TestClient(target);
      thief.cookies.set('__Secure-Fpa-Refresh', { value: stolen, path: '/auth/refresh' });
      const replay = await thief.refresh();
      expect(replay.statusCode).toBe(401);
      expect((await client.get('/auth/me')).statusCode).toBe(401);
      expect((await client.refresh()).statusCode).toBe(401);
    });

    it('lets two tabs refresh at the same moment without logging the user out', async () => {
      const client = await signedInClient(target);
      const shared = client.cookies.get('__Secure-Fpa-Refresh')?.value as string;
      const tabB = new TestClient(target);
      tabB.cookies.set('__Secure-Fpa-Refresh', { value: shared, path: '/auth/refresh' });

      const first = await client.refresh();
      const second = await tabB.refresh();
      expect(first.statusCode).toBe(200);
      expect(second.statusCode).toBe(200);
      expect(second.json().sessionId).toBe(first.json().sessionId);
      // The grace answer sets no cookies: the browser keeps the ones the first answer set,
      // and the token it returns is bound to that current fingerprint.
      expect(second.headers['set-cookie']).toBeUndefined();
      tabB.cookies.set(
        '__Host-Fgp',
        client.cookies.get('__Host-Fgp') as { value: string; path: string },
      );
      expect((await tabB.get('/auth/me')).statusCode).toBe(200);
      expect((await client.get('/auth/me')).statusCode).toBe(200);
    });

    it('accepts neither an access token as refresh credential nor a refresh credential as access token', async () => {
      const client = await signedInClient(target);
      const refreshValue = client.cookies.get('__Secure-Fpa-Refresh')?.value as string;
      const asRefresh = await target.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: { cookie: `__Secure-Fpa-Refresh=${client.accessToken}` },
      });
      expect(asRefresh.statusCode).toBe(401);
      const bearerOnly = await target.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: { authorization: `Bearer ${client.accessToken}` },
      });
      expect(bearerOnly.statusCode).toBe(401);
      const asAccess = await target.inject({
        method: 'GET',
        url: '/auth/me',
        headers: {
          authorization: `Bearer ${refreshValue}`,
          cookie: `__Host-Fgp=${client.cookies.get('__Host-Fgp')?.value}`,
        },
      });
      expect(asAccess.statusCode).toBe(401);
    });

    it('refuses refresh after logout', async () => {
      const client = await signedInClient(target);
      const refreshValue = client.cookies.get('__Secure-Fpa-Refresh')?.value as string;
      expect((await client.post('/auth/logout')).statusCode).toBe(204);
      const response = await target.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: { cookie: `__Secure-Fpa-Refresh=${refreshValue}` },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Invalid or missing credentials',
      });
    });
  });
});

describe.each(['evict-oldest', 'reject'] as const)('per-user session limit, %s (e2e)', (policy) => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ SESSION_LIMIT_POLICY: policy, MAX_SESSIONS_PER_USER: '5' });
  });

  afterAll(async () => {
    await target.close();
  });

  it('holds exactly 5 under 20 simultaneous logins', async () => {
    const email = uniqueEmail();
    await new TestClient(target).register(email, PASSWORD);
    await expectLimitHoldsUnderConcurrentLogins(target, { email, password: PASSWORD }, policy, 5);
  });

  it('does not count expired sessions', async () => {
    const email = uniqueEmail();
    const client = new TestClient(target);
    await client.register(email, PASSWORD);
    for (let i = 0; i < 5; i++) await client.login(email, PASSWORD);
    target.clock.advance(31 * 60_000);
    await expect(client.login(email, PASSWORD)).resolves.toBeDefined();
    expect((await client.get('/sessions')).json<{ sessions: unknown[] }>().sessions).toHaveLength(
      1,
    );
  });

  if (policy === 'evict-oldest') {
    it('evicts the least recently active session', async () => {
      const email = uniqueEmail();
      const clients: TestClient[] = [];
      for (let i = 0; i < 5; i++) {
        const client = new TestClient(target);
        if (i === 0) await client.register(email, PASSWORD);
        await client.login(email, PASSWORD);
        clients.push(client);
        target.clock.advance(120_000);
      }
      expect((await clients[0].get('/auth/me')).statusCode).toBe(200);
      const newcomer = new TestClient(target);
      await newcomer.login(email, PASSWORD);
      expect((await clients[1].get('/auth/me')).statusCode).toBe(401);
      for (const client of [clients[0], ...clients.slice(2), newcomer]) {
        expect((await client.get('/auth/me')).statusCode).toBe(200);
      }
    });
  }
});

describe('session store capacity (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ SESSION_CAPACITY: '3', MAX_SESSIONS_PER_USER: '10' });
  });

  afterAll(async () => {
    await target.close();
  });

  it('answers 503 with Retry-After at capacity, keeps serving existing sessions, and recovers as sessions expire', async () => {
    const email = uniqueEmail();
    const client = await signedInClient(target, email);
    await new TestClient(target).login(email, PASSWORD);
    await new TestClient(target).login(email, PASSWORD);
    const full = await target.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(full.statusCode).toBe(503);
    expect(full.headers['retry-after']).toMatch(/^\d+$/);
    expect(full.headers['set-cookie']).toBeUndefined();
    expect(full.json()).toMatchObject({ statusCode: 503, code: 'SESSION_STORE_FULL' });
    expect((await client.get('/auth/me')).statusCode).toBe(200);

    target.clock.advance(20 * 60_000);
    expect((await client.get('/auth/me')).statusCode).toBe(200);
    target.clock.advance(15 * 60_000);
    // Two sessions have idled out; the store drops them before admitting a new one.
    const admitted = await target.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(admitted.statusCode).toBe(200);
  });
});
