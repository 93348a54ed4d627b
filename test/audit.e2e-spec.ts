import { AuditTrail } from '../src/audit/audit-trail';
import { startApp, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'another horse battery staple';
const uniqueEmail = () => `audit-${Math.random().toString(36).slice(2)}@example.com`;
const LAPTOP =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';

interface EventEntry {
  id: string;
  type: string;
  at: string;
  sessionId: string | null;
  actorSessionId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  device: { browser: string | null; os: string | null; type: string } | null;
  location: unknown;
  detail: { code?: string; count?: number } | null;
}

/** Every event of the signed-in client's account, newest first, page by page. */
async function allEvents(target: TestApp, client: TestClient, limit = 100) {
  await target.app.get(AuditTrail).flush();
  const events: EventEntry[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const query: string = cursor === null ? `limit=${limit}` : `limit=${limit}&before=${cursor}`;
    const response = await client.get(`/account/events?${query}`);
    expect(response.statusCode).toBe(200);
    const body = response.json<{ events: EventEntry[]; nextCursor: string | null }>();
    expect(body.events.length).toBeLessThanOrEqual(limit);
    events.push(...body.events);
    cursor = body.nextCursor;
    if (cursor === null) return events;
  }
  throw new Error('more than 50 pages');
}

describe('audit trail (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ MAX_SESSIONS_PER_USER: '3', REFRESH_GRACE_PERIOD: '10' });
  });

  afterAll(async () => {
    await target.close();
  });

  it("records the account's flow as exactly these events, in order, for that user alone", async () => {
    const email = uniqueEmail();
    const laptop = await signedInClient(target, email, PASSWORD, { 'user-agent': LAPTOP });
    const bystander = await signedInClient(target, uniqueEmail(), PASSWORD);

    // A failed login of this account; a failed login of an unknown email is nobody's event.
    const wrong = await new TestClient(target, { 'user-agent': PHONE }).post('/auth/login', {
      email,
      password: 'not the password at all',
    });
    expect(wrong.statusCode).toBe(401);
    await new TestClient(target).post('/auth/login', { email: uniqueEmail(), password: PASSWORD });

    expect((await laptop.refresh()).statusCode).toBe(200);

    // The phone's credential, replayed after the grace period: theft, the session ends.
    const phone = new TestClient(target, { 'user-agent': PHONE });
    await phone.login(email, PASSWORD);
    const phoneSession = phone.sessionId as string;
    const stolen = new Map(phone.cookies);
    expect((await phone.refresh()).statusCode).toBe(200);
    target.clock.advance(11_000);
    const thief = new TestClient(target, { 'user-agent': PHONE });
    for (const [name, cookie] of stolen) thief.cookies.set(name, cookie);
    expect((await thief.refresh()).statusCode).toBe(401);

    const tablet = new TestClient(target, { 'user-agent': PHONE });
    await tablet.login(email, PASSWORD);
    expect((await laptop.delete(`/sessions/${tablet.sessionId}`)).statusCode).toBe(204);

    const other = new TestClient(target);
    await other.login(email, PASSWORD);
    const all = await laptop.post('/sessions/logout-all');
    expect(all.statusCode).toBe(200);

    const changed = await laptop.post('/auth/password', {
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    expect(changed.statusCode).toBe(200);

    const events = await allEvents(target, laptop);
    const laptopSession = laptop.sessionId as string;
    expect(events.map((e) => [e.type, e.sessionId, e.actorSessionId, e.detail])).toEqual([
      ['password_changed', null, laptopSession, { count: 0 }],
      ['logout_all', null, laptopSession, { count: 1 }],
      ['login', other.sessionId, null, null],
      ['session_revoked', tablet.sessionId, laptopSession, null],
      ['login', tablet.sessionId, null, null],
      ['refresh_reuse', phoneSession, null, null],
      ['refresh', phoneSession, null, null],
      ['login', phoneSession, null, null],
      ['refresh', laptopSession, null, null],
      ['login_failed', null, null, null],
      ['login', laptopSession, null, null],
    ]);
    // Newest first, and the times say so too.
    const times = events.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    // Each with its client: address, user agent and the device parsed from it.
    const firstLogin = events[events.length - 1];
    expect(firstLogin).toMatchObject({
      ipAddress: '127.0.0.1',
      userAgent: LAPTOP,
      device: { browser: 'Chrome 120', type: 'desktop' },
      location: null,
    });
    expect(events[events.length - 2]).toMatchObject({
      userAgent: PHONE,
      device: { type: 'mobile' },
    });

    // Never another user's: the bystander sees its own login only.
    const theirs = await allEvents(target, bystander);
    expect(theirs.map((e) => e.type)).toEqual(['login']);
    expect(theirs[0].sessionId).toBe(bystander.sessionId);

    // The same list a page at a time, through the cursor.
    expect(await allEvents(target, laptop, 3)).toEqual(events);
  });

  it('records sessions ended by the per-user limit, and a logout', async () => {
    const email = uniqueEmail();
    const clients: TestClient[] = [];
    await signedInClient(target, email, PASSWORD).then((first) => clients.push(first));
    for (let i = 0; i < 3; i++) {
      const next = new TestClient(target);
      target.clock.advance(1000);
      await next.login(email, PASSWORD);
      clients.push(next);
    }
    const newest = clients[3];
    expect((await newest.post('/auth/logout')).statusCode).toBe(204);
    const reader = new TestClient(target);
    await reader.login(email, PASSWORD);
    const types = (await allEvents(target, reader)).map((e) => [
      e.type,
      e.sessionId,
      e.actorSessionId,
    ]);
    expect(types.slice(0, 4)).toEqual([
      ['login', reader.sessionId, null],
      ['logout', newest.sessionId, null],
      // The login makes room first (evicting the least recently active session), then succeeds.
      ['login', newest.sessionId, null],
      ['session_evicted', clients[0].sessionId, newest.sessionId],
    ]);
  });

  it('refuses a bad limit or cursor with 400 and lists nothing', async () => {
    const client = await signedInClient(target);
    for (const query of [
      'limit=0',
      'limit=101',
      'limit=abc',
      'limit=1.5',
      'limit=',
      'before=not-a-cursor',
      'before=01ARZ3NDEKTSV4RRFFQ69G5FA',
      'unknown=1',
      'limit=1&limit=2',
    ]) {
      const response = await client.get(`/account/events?${query}`);
      expect([query, response.statusCode]).toEqual([query, 400]);
      expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    }
  });

  it('answers 401 without a signed-in session', async () => {
    const response = await target.inject({ method: 'GET', url: '/account/events' });
    expect(response.statusCode).toBe(401);
  });

  it("forgets a deleted account's events", async () => {
    const email = uniqueEmail();
    const client = await signedInClient(target, email, PASSWORD);
    const trail = target.app.get(AuditTrail);
    await trail.flush();
    const userId = (await client.get('/auth/me')).json<{ id: string }>().id;
    expect((await trail.list(userId, 10)).length).toBeGreaterThan(0);
    const deleted = await client.request({
      method: 'DELETE',
      url: '/account',
      payload: { password: PASSWORD },
    });
    expect(deleted.statusCode).toBe(204);
    await trail.flush();
    expect(await trail.list(userId, 10)).toEqual([]);
  });
});

describe('audit trail off (e2e)', () => {
  it('keeps no events and lists none', async () => {
    const target = await startApp({ AUDIT_TRAIL: 'off' });
    try {
      const client = await signedInClient(target);
      expect(target.app.get(AuditTrail).enabled).toBe(false);
      const response = await client.get('/account/events');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ events: [], nextCursor: null });
    } finally {
      await target.close();
    }
  });
});
