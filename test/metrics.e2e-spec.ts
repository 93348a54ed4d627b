import { startApp, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';
import { sample } from './support/metrics';

const PASSWORD = 'correct horse battery staple';
const uniqueEmail = () => `m-${Math.random().toString(36).slice(2)}@example.com`;

describe('metrics (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ MAX_SESSIONS_PER_USER: '2' });
  });

  afterAll(async () => {
    await target.close();
  });

  const scrape = async () => {
    const response = await target.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    return response.body;
  };

  it('serves Prometheus text publicly, never cached, with the process metrics', async () => {
    const response = await target.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(response.body).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
    expect(response.body).toContain('# TYPE process_cpu_user_seconds_total counter');
  });

  it('counts logins by result and guard rejections by reason', async () => {
    const before = await scrape();
    const email = uniqueEmail();
    const client = await signedInClient(target, email, PASSWORD);
    const stranger = new TestClient(target);
    expect(
      (await stranger.post('/auth/login', { email, password: 'wrong password' })).statusCode,
    ).toBe(401);
    expect(
      (await stranger.post('/auth/login', { email: uniqueEmail(), password: 'x' })).statusCode,
    ).toBe(401);
    // No token at all; then the right token without its fingerprint cookie.
    expect((await target.inject({ method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
    const noCookie = await target.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${client.accessToken}` },
    });
    expect(noCookie.statusCode).toBe(401);
    const after = await scrape();

    const delta = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta('fpa_logins_total', { result: 'success' })).toBe(1);
    expect(delta('fpa_logins_total', { result: 'invalid_credentials' })).toBe(2);
    expect(delta('fpa_guard_rejections_total', { reason: 'missing_token' })).toBe(1);
    expect(delta('fpa_guard_rejections_total', { reason: 'missing_fingerprint' })).toBe(1);
  });

  it('counts refreshes, revocations, evictions and alerts', async () => {
    const before = await scrape();
    const email = uniqueEmail();
    const first = await signedInClient(target, email, PASSWORD);
    const second = new TestClient(target);
    await second.login(email, PASSWORD);
    const third = new TestClient(target);
    await third.login(email, PASSWORD); // limit 2: evicts `first`
    expect((await third.refresh()).statusCode).toBe(200);
    expect((await second.post('/auth/logout')).statusCode).toBe(204);
    expect((await first.get('/auth/me')).statusCode).toBe(401);
    // Used from another browser than it logged in from (activity is written after 60 s).
    target.clock.advance(61_000);
    expect((await third.get('/auth/me', { 'user-agent': 'Other/2.0' })).statusCode).toBe(200);
    const alerts = await third.get('/sessions/alerts');
    expect(alerts.json<{ alerts: Array<{ code: string }> }>().alerts).toContainEqual(
      expect.objectContaining({ code: 'USER_AGENT_CHANGED' }),
    );
    const after = await scrape();

    const delta = (name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta('fpa_session_evictions_total')).toBe(1);
    expect(delta('fpa_refreshes_total', { result: 'rotated' })).toBe(1);
    expect(delta('fpa_session_revocations_total', { reason: 'logout' })).toBe(1);
    expect(delta('fpa_guard_rejections_total', { reason: 'session_not_found' })).toBe(1);
    expect(delta('fpa_session_alerts_total', { code: 'USER_AGENT_CHANGED' })).toBe(1);
  });

  it('labels request durations by route pattern, never by id, and unknown routes as unmatched', async () => {
    const client = await signedInClient(target, uniqueEmail(), PASSWORD);
    const other = new TestClient(target, {});
    const sessionId = client.sessionId as string;
    expect((await client.delete(`/sessions/${'A'.repeat(22)}`)).statusCode).toBe(404);
    expect((await client.delete(`/sessions/${sessionId}`)).statusCode).toBe(204);
    expect((await other.get(`/no/such/route/${sessionId}`)).statusCode).toBe(404);

    const text = await scrape();
    expect(text).not.toContain(sessionId);
    expect(text).not.toContain('A'.repeat(22));
    const count = (route: string, status: string, method = 'DELETE') =>
      sample(text, 'fpa_http_request_duration_seconds_count', {
        method,
        route,
        status_code: status,
      });
    expect(count('/sessions/:sessionId', '404')).toBe(1);
    expect(count('/sessions/:sessionId', '204')).toBe(1);
    expect(count('unmatched', '404', 'GET')).toBeGreaterThanOrEqual(1);
    expect(count('/auth/login', '200', 'POST')).toBeGreaterThanOrEqual(1);
  });
});

// An app of its own, started only after the one above is closed: Passport keeps one 'jwt'
// strategy per process, so two live apps in one process would share the last one's.
describe('session store gauges (e2e)', () => {
  let fresh: TestApp;

  beforeAll(async () => {
    fresh = await startApp();
  });

  afterAll(async () => {
    await fresh.close();
  });

  it('reports the same live and expired figures as readiness, read from the store on scrape', async () => {
    const figures = async () => {
      const text = (await fresh.inject({ method: 'GET', url: '/metrics' })).body;
      const ready = (await fresh.inject({ method: 'GET', url: '/health/ready' })).json<{
        details: { sessionStore: Record<string, number> };
      }>().details.sessionStore;
      return {
        metrics: {
          live: sample(text, 'fpa_sessions_live'),
          expired: sample(text, 'fpa_sessions_expired_unswept'),
          capacity: sample(text, 'fpa_sessions_capacity'),
          estimatedBytes: sample(text, 'fpa_sessions_estimated_bytes'),
        },
        ready,
        up: sample(text, 'fpa_session_store_up'),
      };
    };
    const email = uniqueEmail();
    await signedInClient(fresh, email, PASSWORD);
    await new TestClient(fresh).login(email, PASSWORD);
    await new TestClient(fresh).login(email, PASSWORD);

    let seen = await figures();
    expect(seen.metrics).toMatchObject({ live: 3, expired: 0, capacity: 1_000_000 });
    expect(seen.metrics.estimatedBytes).toBeGreaterThan(0);
    expect(seen.ready).toMatchObject(seen.metrics);
    expect(seen.up).toBe(1);

    // Past the idle timeout, before any sweep: nothing live, three waiting for the cleanup job.
    fresh.clock.advance(31 * 60_000);
    seen = await figures();
    expect(seen.metrics).toMatchObject({ live: 0, expired: 3 });
    expect(seen.ready).toMatchObject(seen.metrics);
  });
});
