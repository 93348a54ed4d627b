import { request as httpRequest } from 'node:http';
import { startApp, TestApp } from '../support/app';
import { signedInClient, TestClient } from '../support/client';

const PASSWORD = 'correct horse battery staple';
const PAGE_ORIGIN = 'http://localhost:7731';
const uniqueEmail = () => `http-${Math.random().toString(36).slice(2)}@example.com`;
const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
];

/** A raw HTTP/1.1 request over a real socket (no client-side header limits or rewriting). */
function rawRequest(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** helmet's headers that only mean something on a page a browser renders. */
const PAGE_ONLY_HEADERS = [
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

describe('HTTP hardening (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp({ CORS_ORIGINS: `${PAGE_ORIGIN},https://app.example.com` });
  });

  afterAll(() => target.close());

  describe('CORS', () => {
    const preflight = (origin: string, path = '/auth/login') =>
      target.inject({
        method: 'OPTIONS',
        url: path,
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });

    it('answers a preflight from an allowed origin with its exact origin and credentials', async () => {
      const response = await preflight(PAGE_ORIGIN);
      expect(response.statusCode).toBe(204);
      expect(response.headers).toMatchObject({
        'access-control-allow-origin': PAGE_ORIGIN,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, POST, DELETE',
        'access-control-allow-headers': 'Authorization, Content-Type',
      });
      expect(String(response.headers.vary)).toMatch(/\bOrigin\b/);
    });

    it.each([
      ['a foreign origin', 'https://evil.example'],
      ['the null origin (sandboxed frames, file: pages)', 'null'],
      ['an allowed origin with another port', 'http://localhost:7732'],
      ['an allowed origin with another scheme', 'http://app.example.com'],
      ['an allowed origin as a suffix', 'https://app.example.com.evil.example'],
      ['an allowed origin with a trailing slash', `${PAGE_ORIGIN}/`],
    ])('gives %s no CORS header on preflight nor on the request', async (_, origin) => {
      const response = await preflight(origin);
      expect(response.statusCode).toBe(404);
      for (const header of CORS_HEADERS) expect(response.headers[header]).toBeUndefined();
      const login = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: uniqueEmail(), password: PASSWORD },
        headers: { origin },
      });
      expect(login.statusCode).toBe(401);
      for (const header of CORS_HEADERS) expect(login.headers[header]).toBeUndefined();
      expect(String(login.headers.vary)).toMatch(/\bOrigin\b/);
    });

    it.each([
      ['a body that is not JSON (400)', 'application/json', '{"email":', 400],
      ['a body of another type (415)', 'text/plain', 'email=a', 415],
      ['an unknown route (404)', 'application/json', '{}', 404],
    ])(
      'lets the page read %s: CORS headers on answers before any handler',
      async (_, type, body, status) => {
        const response = await target.inject({
          method: 'POST',
          url: status === 404 ? '/auth/no-such-route' : '/auth/login',
          payload: body,
          headers: { origin: PAGE_ORIGIN, 'content-type': type },
        });
        expect(response.statusCode).toBe(status);
        expect(response.headers['access-control-allow-origin']).toBe(PAGE_ORIGIN);
        expect(response.headers['access-control-allow-credentials']).toBe('true');
        expect(String(response.headers.vary)).toMatch(/\bOrigin\b/);
      },
    );

    it('echoes the exact allowed origin on real requests, with Vary: Origin', async () => {
      const client = await signedInClient(target, uniqueEmail(), PASSWORD, { origin: PAGE_ORIGIN });
      const me = await client.get('/auth/me');
      expect(me.statusCode).toBe(200);
      expect(me.headers['access-control-allow-origin']).toBe(PAGE_ORIGIN);
      expect(me.headers['access-control-allow-credentials']).toBe('true');
      expect(me.headers['access-control-expose-headers']).toBe('Retry-After');
      expect(String(me.headers.vary)).toMatch(/\bOrigin\b/);
    });
  });

  describe('JSON only', () => {
    const bodies: Array<[string, string, string]> = [
      ['form-urlencoded', 'application/x-www-form-urlencoded', 'email=a%40example.com&password=x'],
      [
        'multipart',
        'multipart/form-data; boundary=XyZ',
        '--XyZ\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.com\r\n--XyZ--\r\n',
      ],
      ['text/plain (what a cross-site form can send)', 'text/plain', '{"email":"a@example.com"}'],
      ['a JSON look-alike type', 'application/jsonx', '{"email":"a@example.com"}'],
      ['XML', 'application/xml', '<email>a@example.com</email>'],
    ];

    it.each(bodies)('answers %s with 415 on register and stores nothing', async (_, type, body) => {
      const email = uniqueEmail();
      const payload = body
        .replace('a%40example.com', encodeURIComponent(email))
        .replace(/a@example\.com/g, email);
      const response = await target.inject({
        method: 'POST',
        url: '/auth/register',
        payload: `${payload}`,
        headers: { 'content-type': type },
      });
      expect(response.statusCode).toBe(415);
      expect(response.json()).toEqual({
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: expect.any(String),
      });
      const login = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      });
      expect(login.statusCode).toBe(401);
    });

    it.each(bodies)('answers %s with 415 on login and sets no cookie', async (_, type, body) => {
      const response = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: body,
        headers: { 'content-type': type },
      });
      expect(response.statusCode).toBe(415);
      expect(response.headers['set-cookie']).toBeUndefined();
    });

    it('answers a cross-site form posted to a guarded route with 415, changing nothing', async () => {
      const client = await signedInClient(target);
      const cookie = [...client.cookies].map(([name, c]) => `${name}=${c.value}`).join('; ');
      const logout = await target.inject({
        method: 'POST',
        url: '/auth/logout',
        payload: 'x=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      });
      expect(logout.statusCode).toBe(415);
      const password = await client.post('/auth/password', 'currentPassword=x&newPassword=y', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(password.statusCode).toBe(415);
      expect((await client.get('/auth/me')).statusCode).toBe(200);
    });

    it('accepts JSON with a charset', async () => {
      const email = uniqueEmail();
      const response = await target.inject({
        method: 'POST',
        url: '/auth/register',
        payload: JSON.stringify({ email, password: PASSWORD }),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      expect(response.statusCode).toBe(201);
    });
  });

  describe('caching', () => {
    it('forbids caching every answer that carries a token, and the rest by default', async () => {
      const email = uniqueEmail();
      const client = new TestClient(target);
      const registered = await client.register(email, PASSWORD);
      expect(registered.headers['cache-control']).toBe('no-store');
      const login = await client.post('/auth/login', { email, password: PASSWORD });
      expect(login.statusCode).toBe(200);
      expect(login.headers['cache-control']).toBe('no-store');
      expect(login.headers.pragma).toBe('no-cache');
      const refresh = await client.refresh();
      expect(refresh.statusCode).toBe(200);
      expect(refresh.headers['cache-control']).toBe('no-store');
      for (const path of ['/auth/me', '/sessions', '/sessions/alerts']) {
        const response = await client.get(path);
        expect({
          path,
          status: response.statusCode,
          cache: response.headers['cache-control'],
        }).toEqual({
          path,
          status: 200,
          cache: 'no-store',
        });
      }
      const failed = await target.inject({ method: 'GET', url: '/auth/me' });
      expect(failed.headers['cache-control']).toBe('no-store');
    });
  });

  describe('security headers', () => {
    it("sends OWASP's headers for APIs with every JSON answer: success, 401, 404, 415 and 400", async () => {
      const client = await signedInClient(target, uniqueEmail(), PASSWORD);
      const answers = {
        me: await client.get('/auth/me'),
        unauthenticated: await target.inject({ method: 'GET', url: '/auth/me' }),
        unknownRoute: await target.inject({ method: 'GET', url: '/no/such/route' }),
        notJson: await target.inject({
          method: 'POST',
          url: '/auth/login',
          headers: { 'content-type': 'text/plain' },
          payload: 'email=a',
        }),
        malformed: await target.inject({
          method: 'POST',
          url: '/auth/login',
          headers: { 'content-type': 'application/json' },
          payload: '{"email":',
        }),
      };
      for (const [what, response] of Object.entries(answers)) {
        expect({ what, headers: response.headers }).toEqual({
          what,
          headers: expect.objectContaining({
            'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
            'strict-transport-security': 'max-age=31536000; includeSubDomains',
            'x-content-type-options': 'nosniff',
            'x-frame-options': 'DENY',
            'referrer-policy': 'no-referrer',
            'cross-origin-resource-policy': 'same-origin',
            'cache-control': 'no-store',
          }),
        });
        // helmet's headers for pages a browser renders stay on the pages (the API docs).
        for (const pageOnly of PAGE_ONLY_HEADERS)
          expect(response.headers[pageOnly]).toBeUndefined();
        expect(response.headers['x-powered-by']).toBeUndefined();
      }
      expect(answers.unauthenticated.statusCode).toBe(401);
      expect(answers.unknownRoute.statusCode).toBe(404);
      expect(answers.notJson.statusCode).toBe(415);
      expect(answers.malformed.statusCode).toBe(400);
    });
  });

  describe('sizes and lengths', () => {
    it('refuses a body over BODY_LIMIT with 413 and stores nothing', async () => {
      const email = uniqueEmail();
      const response = await target.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email, password: PASSWORD, displayName: 'd'.repeat(9000) },
      });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toEqual({
        statusCode: 413,
        error: 'Payload Too Large',
        message: 'Request body is too large',
      });
      const login = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      });
      expect(login.statusCode).toBe(401);
    });

    it('stores at most 512 characters of a user agent', async () => {
      const client = await signedInClient(target, uniqueEmail(), PASSWORD, {
        'user-agent': `Mozilla/5.0 ${'x'.repeat(5000)}`,
      });
      const sessions = (await client.get('/sessions')).json().sessions as Array<{
        userAgent: string;
      }>;
      expect(sessions).toHaveLength(1);
      expect(sessions[0].userAgent).toHaveLength(512);
      expect(sessions[0].userAgent.startsWith('Mozilla/5.0 xxx')).toBe(true);
    });

    it('answers a path parameter of 10 KB with 404 and no echo of it', async () => {
      const client = await signedInClient(target);
      const response = await client.delete(`/sessions/${'a'.repeat(10_000)}`);
      expect(response.statusCode).toBe(404);
      expect(response.body.length).toBeLessThan(200);
      expect((await client.get('/sessions')).json().sessions).toHaveLength(1);
    });

    it('refuses 20 KB of headers at the socket (431) and in-process as a plain 401', async () => {
      await target.app.listen({ port: 7721, host: '127.0.0.1' });
      const huge = `Bearer ${'a'.repeat(20_000)}`;
      const overSocket = await rawRequest(7721, '/auth/me', { authorization: huge });
      expect(overSocket.status).toBe(431);
      const inProcess = await target.inject({
        method: 'GET',
        url: '/auth/me',
        headers: { authorization: huge },
      });
      expect(inProcess.statusCode).toBe(401);
    });
  });
});

// Each block below starts its own app. Passport keeps strategies process-wide, so an app created
// later takes over the JWT strategy of one created earlier: never use two apps at once here.
describe('HTTP hardening (e2e): CORS_ORIGINS unset', () => {
  let closed: TestApp;

  beforeAll(async () => {
    closed = await startApp();
  });

  afterAll(() => closed.close());

  it('allows nothing cross-origin', async () => {
    const response = await closed.inject({
      method: 'OPTIONS',
      url: '/auth/login',
      headers: { origin: PAGE_ORIGIN, 'access-control-request-method': 'POST' },
    });
    expect(response.statusCode).toBe(404);
    for (const header of CORS_HEADERS) expect(response.headers[header]).toBeUndefined();
  });
});

describe.each([
  { value: 'false', note: 'the default: the socket address is the client', expected: '127.0.0.1' },
  { value: '127.0.0.1', note: 'the proxy: X-Forwarded-For is believed', expected: '198.51.100.23' },
  { value: '10.0.0.0/8', note: 'not the proxy: X-Forwarded-For is ignored', expected: '127.0.0.1' },
  {
    value: '127.0.0.0/8, ::1',
    note: 'the proxy among several ranges',
    expected: '198.51.100.23',
  },
])('HTTP hardening (e2e): TRUST_PROXY=$value ($note)', ({ value, expected }) => {
  let proxied: TestApp;

  beforeAll(async () => {
    proxied = await startApp({ TRUST_PROXY: value });
  });

  afterAll(() => proxied.close());

  it(`records ${expected} as the session's address`, async () => {
    const client = await signedInClient(proxied, uniqueEmail(), PASSWORD, {
      'x-forwarded-for': '198.51.100.23',
    });
    const sessions = (await client.get('/sessions')).json().sessions;
    expect(sessions).toHaveLength(1);
    expect(sessions[0].ipAddress).toBe(expected);
  });
});
