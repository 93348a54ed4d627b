import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium } from 'playwright-core';
import { startService, ServiceProcess } from '../support/process';
import { describeWithChromium } from '../support/services';

/** Ports 7740-7749: the API, the allowed page origin and a foreign one. */
const API_PORT = 7740;
const PAGE_PORT = 7742;
const FOREIGN_PORT = 7743;
const API = `http://localhost:${API_PORT}`;
const PAGE_ORIGIN = `http://localhost:${PAGE_PORT}`;
const PASSWORD = 'correct horse battery staple';

/** The front end: a page on another origin of the same site that calls the API as an SPA would. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>front end</title></head><body>
<script>
  const API = ${JSON.stringify(API)};
  let token = null;
  async function call(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = 'Bearer ' + token;
    const response = await fetch(API + path, {
      method, credentials: 'include', headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }
  window.app = {
    async login(email, password) {
      const result = await call('POST', '/auth/login', { email, password });
      if (result.status === 200) token = result.body.accessToken;
      return result;
    },
    me: () => call('GET', '/auth/me'),
    sessions: () => call('GET', '/sessions'),
    revoke: (id) => call('DELETE', '/sessions/' + encodeURIComponent(id)),
    token: () => token,
    useToken: (value) => { token = value; },
    async tryLogin(email, password) {
      try { return await call('POST', '/auth/login', { email, password }); }
      catch (error) { return { status: 0, error: String(error) }; }
    },
  };
</script>
</body></html>`;

interface CallResult {
  status: number;
  body: Record<string, unknown> | null;
  error?: string;
}

function servePage(port: number): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(PAGE);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

describeWithChromium('a real browser (Chromium) against the service', (executablePath) => {
  let dir: string;
  let service: ServiceProcess;
  let pages: Server[] = [];
  let browser: Browser;
  const email = `browser-${randomBytes(4).toString('hex')}@example.com`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-browser-'));
    // Production settings: __Host-Fgp with Secure. Chromium treats http://localhost as potentially
    // trustworthy and keeps Secure cookies from it, so COOKIE_SECURE stays true here.
    service = await startService(
      {
        NODE_ENV: 'production',
        JWT_SECRET: randomBytes(48).toString('base64url'),
        DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
        CORS_ORIGINS: PAGE_ORIGIN,
        GEOIP: 'off',
      },
      API_PORT,
    );
    pages = [await servePage(PAGE_PORT), await servePage(FOREIGN_PORT)];
    browser = await chromium.launch({
      executablePath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const registered = await fetch(`${service.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(registered.status).toBe(201);
  });

  afterAll(async () => {
    await browser?.close();
    for (const server of pages) await new Promise((resolve) => server.close(resolve));
    await service?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A tab of the front end in `context`; `call` runs one of its `app` functions and returns its result. */
  async function openFrontEnd(context: BrowserContext, origin = PAGE_ORIGIN) {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    const call = (name: string, ...args: unknown[]): Promise<CallResult> =>
      page.evaluate(`app.${name}(...${JSON.stringify(args)})`);
    return { page, call };
  }

  it('logs in cross-origin, keeps the fingerprint from script, and binds the token to this browser', async () => {
    const laptop = await browser.newContext();
    const phone = await browser.newContext();
    try {
      const a = await openFrontEnd(laptop);
      const login = await a.call('login', email, PASSWORD);
      expect(login.status).toBe(200);
      expect(login.body).toMatchObject({ tokenType: 'Bearer', sessionId: expect.any(String) });
      const laptopSession = login.body?.sessionId as string;

      const me = await a.call('me');
      expect(me).toEqual({
        status: 200,
        body: { id: expect.any(String), email, displayName: null, sessionId: laptopSession },
      });

      // The browser kept the __Host- cookie from http://localhost, HttpOnly: script cannot see it.
      const jar = await laptop.cookies(API);
      const fingerprint = jar.find((cookie) => cookie.name === '__Host-Fgp');
      expect(fingerprint).toMatchObject({
        httpOnly: true,
        secure: true,
        sameSite: 'Strict',
        path: '/',
        domain: 'localhost',
      });
      expect(fingerprint?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const visible = await a.page.evaluate<string>('document.cookie');
      expect(visible).not.toContain(fingerprint?.value as string);
      expect(visible).not.toContain('Fgp');
      expect(visible).not.toContain('Refresh');

      // What XSS could take, the token, replayed from another browser without the cookie: 401.
      const stolen = (await a.page.evaluate('app.token()')) as string;
      const b = await openFrontEnd(phone);
      await b.call('useToken', stolen);
      const replay = await b.call('me');
      expect(replay.status).toBe(401);

      // The second browser logs in: two sessions, each listed once, each knowing which is current.
      const phoneLogin = await b.call('login', email, PASSWORD);
      expect(phoneLogin.status).toBe(200);
      const phoneSession = phoneLogin.body?.sessionId as string;
      const listed = await a.call('sessions');
      expect(listed.status).toBe(200);
      const sessions = (listed.body?.sessions ?? []) as Array<{ id: string; current: boolean }>;
      expect(sessions.map((s) => [s.id, s.current]).sort()).toEqual(
        [
          [laptopSession, true],
          [phoneSession, false],
        ].sort(),
      );

      // The laptop ends the phone's session: the phone's next call fails, the laptop's works.
      expect((await a.call('revoke', phoneSession)).status).toBe(204);
      expect((await b.call('me')).status).toBe(401);
      expect((await a.call('me')).status).toBe(200);
    } finally {
      await laptop.close();
      await phone.close();
    }
  });

  it('lets a page of an origin not in CORS_ORIGINS neither read nor send a login', async () => {
    const context = await browser.newContext();
    try {
      const foreign = await openFrontEnd(context, `http://localhost:${FOREIGN_PORT}`);
      const attempt = await foreign.call('tryLogin', email, PASSWORD);
      expect(attempt.status).toBe(0);
      expect(attempt.error).toMatch(/Failed to fetch/);
      // The preflight failed, so the login itself was never sent: no cookie in this browser.
      expect(await context.cookies(API)).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
