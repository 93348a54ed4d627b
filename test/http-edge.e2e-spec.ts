import { startApp, TestApp } from './support/app';

/** Security headers per transport, API docs on and off, and what an error answer repeats. */
const outcome = (response: { statusCode: number; body: string; json(): unknown }) => ({
  status: response.statusCode,
  // The docs are HTML, JSON and YAML; a 404 is the usual JSON error.
  body: response.statusCode === 404 ? response.json() : response.body.slice(0, 40),
});

describe('security headers by transport (e2e)', () => {
  let https: TestApp;
  let plain: TestApp;

  beforeAll(async () => {
    https = await startApp({ COOKIE_SECURE: 'true', API_DOCS: 'on' });
    plain = await startApp({ COOKIE_SECURE: 'false', API_DOCS: 'on' });
  });

  afterAll(async () => {
    await https?.close();
    await plain?.close();
  });

  it('sends HSTS when the service is reached over https, and the page upgrade-insecure-requests', async () => {
    for (const url of ['/health/live', '/no/such/route', '/docs']) {
      const response = await https.inject({ method: 'GET', url });
      expect(response.headers['strict-transport-security']).toBe(
        'max-age=31536000; includeSubDomains',
      );
    }
    const page = await https.inject({ method: 'GET', url: '/docs' });
    expect(page.headers['content-security-policy']).toContain('upgrade-insecure-requests');
  });

  it('sends neither over plain http (COOKIE_SECURE=false), and the rest of the headers still', async () => {
    for (const url of ['/health/live', '/no/such/route']) {
      const response = await plain.inject({ method: 'GET', url });
      expect(response.headers['strict-transport-security']).toBeUndefined();
      expect(response.headers).toMatchObject({
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      });
    }
    const page = await plain.inject({ method: 'GET', url: '/docs' });
    expect(page.headers['strict-transport-security']).toBeUndefined();
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(page.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    });
  });
});

describe('API docs switch (e2e)', () => {
  const DOCS = ['/docs', '/docs-json', '/docs-yaml'];

  async function statuses(overrides: Record<string, string>) {
    const target = await startApp(overrides);
    try {
      const found: Record<string, unknown> = {};
      for (const url of DOCS) found[url] = outcome(await target.inject({ method: 'GET', url }));
      return found;
    } finally {
      await target.close();
    }
  }

  const notFound = (url: string) => ({
    status: 404,
    body: { statusCode: 404, error: 'Not Found', message: `Cannot GET ${url}` },
  });

  it('serves no docs by default when NODE_ENV=production: 404 like any unknown path', async () => {
    expect(await statuses({ NODE_ENV: 'production' })).toEqual(
      Object.fromEntries(DOCS.map((url) => [url, notFound(url)])),
    );
  });

  it('serves them in production when API_DOCS=on', async () => {
    const found = await statuses({ NODE_ENV: 'production', API_DOCS: 'on' });
    for (const url of DOCS) expect(found[url]).toMatchObject({ status: 200 });
  });

  it('serves them by default outside production, and not with API_DOCS=off', async () => {
    const development = await statuses({ NODE_ENV: 'development' });
    for (const url of DOCS) expect(development[url]).toMatchObject({ status: 200 });
    expect(await statuses({ NODE_ENV: 'test', API_DOCS: 'off' })).toEqual(
      Object.fromEntries(DOCS.map((url) => [url, notFound(url)])),
    );
  });
});

describe('what an error answer repeats of the request (e2e)', () => {
  let target: TestApp;
  const long = 'a'.repeat(9 * 1024);

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(() => target.close());

  it('names at most 64 characters of an unknown path, and never its query', async () => {
    const response = await target.inject({ method: 'GET', url: `/${long}?token=query-secret-1` });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: `Cannot GET /${'a'.repeat(63)}…`,
    });
    expect(response.body).not.toContain('query-secret-1');

    const short = await target.inject({
      method: 'POST',
      url: '/nothing/here?token=query-secret-2',
    });
    expect(short.statusCode).toBe(404);
    expect(short.json().message).toBe('Cannot POST /nothing/here');
  });

  it.each([
    ['a parameter too long for the router (404)', 'DELETE', `/sessions/${long}`, 404],
    ['a path the router cannot decode (400)', 'GET', `/sessions/%zz${long}`, 400],
  ])('answers %s without repeating the path', async (_case, method, url, status) => {
    const response = await target.inject({ method: method as 'GET', url });
    expect(response.statusCode).toBe(status);
    expect(response.body.length).toBeLessThan(200);
    expect(response.body).not.toContain('aaaa');
  });
});
