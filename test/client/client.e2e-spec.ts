import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importEsm } from '../support/import-esm';
import { ServiceProcess, startService } from '../support/process';
import { InProcessLockManager } from '../support/web-locks';
import { BrowserCookies } from './browser-cookies';

type ClientModule = typeof import('../../src/client/index');
type AuthClient = import('../../src/client/index').AuthClient;
type LoggedOutEvent = import('../../src/client/index').LoggedOutEvent;
type TokenEvent = import('../../src/client/index').TokenEvent;

/**
 * The client as a consumer gets it, built (dist/client, ES modules) and run against the real
 * service process over loopback HTTP. Each `BrowserCookies` is one browser's cookie jar.
 */
const ROOT = join(__dirname, '..', '..');
const DIST_CLIENT = join(ROOT, 'dist', 'client');
const PASSWORD = 'correct horse battery staple';
const TOKEN_TTL_SECONDS = 10;
const uniqueEmail = (label: string) =>
  `client-${label}-${Math.random().toString(36).slice(2)}@example.com`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until `condition` holds; fails the test if it never does. */
async function eventually(condition: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition() && Date.now() < deadline) await sleep(25);
  expect(condition()).toBe(true);
}

let lib: ClientModule;
beforeAll(async () => {
  lib = await importEsm<ClientModule>(join(DIST_CLIENT, 'index.js'));
});

describe('fingerprint-auth/client against the service (e2e)', () => {
  let service: ServiceProcess;
  const clients: AuthClient[] = [];

  function tab(
    browser: BrowserCookies,
    options: Partial<Parameters<ClientModule['createAuthClient']>[0]> = {},
  ): AuthClient {
    const client = lib.createAuthClient({
      baseUrl: service.url,
      fetch: browser.fetch as typeof fetch,
      ...options,
    });
    clients.push(client);
    return client;
  }

  function events(client: AuthClient) {
    const tokens: TokenEvent[] = [];
    const loggedOut: LoggedOutEvent[] = [];
    client.addEventListener('token', (event) => tokens.push(event));
    client.addEventListener('loggedout', (event) => loggedOut.push(event));
    return { tokens, loggedOut };
  }

  beforeAll(async () => {
    service = await startService(
      { COOKIE_SECURE: 'false', ACCESS_TOKEN_TTL: `${TOKEN_TTL_SECONDS}s`, GEOIP: 'off' },
      7950,
    );
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await service?.stop();
  });

  it('register -> login -> me -> a guarded route -> expiry and automatic refresh -> sessions -> logout-all -> logout', async () => {
    const email = uniqueEmail('flow');
    const browser = new BrowserCookies();
    // The token runs out on its own here: no proactive refresh, so the 401 path is the one taken.
    const client = tab(browser, { proactiveRefresh: false });
    const seen = events(client);

    const user = await client.register({ email, password: PASSWORD, displayName: 'Alice' });
    expect(user).toMatchObject({ email, displayName: 'Alice' });
    await expect(client.register({ email, password: PASSWORD })).rejects.toMatchObject({
      status: 409,
      code: 'EMAIL_TAKEN',
    });
    await expect(client.login({ email, password: 'wrong password' })).rejects.toMatchObject({
      status: 401,
      code: undefined,
      message: 'Invalid email or password',
    });

    const login = await client.login({ email, password: PASSWORD });
    expect(login).toMatchObject({ tokenType: 'Bearer', expiresIn: TOKEN_TTL_SECONDS });
    expect(client.accessToken).toBe(login.accessToken);
    expect(seen.tokens.map((event) => event.source)).toEqual(['login']);
    // The cookies went to the jar, not to script: the client has no API that shows them.
    expect(browser.names()).toEqual(['fgp', 'fpa_refresh']);

    const me = await client.me();
    expect(me).toEqual({ id: user.id, email, displayName: 'Alice', sessionId: login.sessionId });

    const guarded = await client.fetch('/sessions');
    expect(guarded.status).toBe(200);
    const listed = (await guarded.json()) as { sessions: Array<{ id: string; current: boolean }> };
    expect(listed.sessions).toEqual([
      expect.objectContaining({ id: login.sessionId, current: true }),
    ]);

    // Expiry: the token and the fingerprint cookie (Max-Age = ACCESS_TOKEN_TTL) run out.
    const expiresAt = client.accessTokenExpiresAt as number;
    await sleep(Math.max(0, expiresAt - Date.now()) + 1_000);
    expect(browser.names()).toEqual(['fpa_refresh']);
    const refreshesBefore = browser.requests('/auth/refresh').length;
    const meCallsBefore = browser.requests('/auth/me').length;

    expect((await client.me()).sessionId).toBe(login.sessionId);

    expect(browser.requests('/auth/refresh').slice(refreshesBefore)).toEqual([
      expect.objectContaining({ method: 'POST', status: 200, sentCookies: ['fpa_refresh'] }),
    ]);
    expect(
      browser
        .requests('/auth/me')
        .slice(meCallsBefore)
        .map((request) => request.status),
    ).toEqual([401, 200]);
    expect(client.accessToken).not.toBe(login.accessToken);
    expect(client.sessionId).toBe(login.sessionId);
    expect(seen.tokens.map((event) => event.source)).toEqual(['login', 'refresh']);
    expect(browser.names()).toEqual(['fgp', 'fpa_refresh']);

    // Sessions: two more devices (browsers) of the same user.
    const phone = tab(new BrowserCookies());
    const phoneEvents = events(phone);
    await phone.login({ email, password: PASSWORD });
    const tablet = tab(new BrowserCookies());
    const tabletEvents = events(tablet);
    await tablet.login({ email, password: PASSWORD });

    // Their ids, kept: a client forgets its session id once it is logged out.
    const phoneSession = phone.sessionId;
    const tabletSession = tablet.sessionId;
    const sessions = await client.sessions.list();
    expect(sessions.map((entry) => entry.id).sort()).toEqual(
      [login.sessionId, phone.sessionId, tablet.sessionId].sort(),
    );
    expect(sessions.filter((entry) => entry.current).map((entry) => entry.id)).toEqual([
      login.sessionId,
    ]);
    expect(Array.isArray(await client.sessions.alerts())).toBe(true);

    await client.sessions.revoke(phone.sessionId as string);
    await expect(phone.me()).rejects.toMatchObject({ status: 401 });
    expect(phoneEvents.loggedOut).toEqual([{ type: 'loggedout', reason: 'refresh-refused' }]);
    expect(phone.accessToken).toBeNull();
    await expect(client.sessions.revoke(phone.sessionId ?? 'gone')).rejects.toMatchObject({
      status: 404,
    });

    expect(await client.sessions.logoutAll()).toEqual({ revoked: 1 });
    expect((await tablet.fetch('/auth/me')).status).toBe(401);

    // The account's security events, newest first, a page at a time (written within half a
    // second: wait for the newest, bounded).
    let page = await client.accountEvents({ limit: 2 });
    for (let tries = 0; page.events[0]?.type !== 'logout_all' && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      page = await client.accountEvents({ limit: 2 });
    }
    expect(page.events.map((event) => [event.type, event.sessionId])).toEqual([
      ['logout_all', null],
      ['session_revoked', phoneSession],
    ]);
    expect(page.events[0].actorSessionId).toBe(login.sessionId);
    const older = await client.accountEvents({ limit: 2, before: page.nextCursor as string });
    expect(older.events.map((event) => [event.type, event.sessionId])).toEqual([
      ['login', tabletSession],
      ['login', phoneSession],
    ]);
    expect(tabletEvents.loggedOut).toEqual([{ type: 'loggedout', reason: 'refresh-refused' }]);
    expect((await client.sessions.list()).map((entry) => entry.id)).toEqual([login.sessionId]);

    await client.logout();
    expect(client.accessToken).toBeNull();
    expect(seen.loggedOut).toEqual([{ type: 'loggedout', reason: 'logout' }]);
    expect(browser.names()).toEqual([]);
    await expect(client.me()).rejects.toMatchObject({ status: 401 });
    expect(seen.loggedOut).toHaveLength(1);
  }, 40_000);

  it('refreshes on its own before the token expires', async () => {
    const email = uniqueEmail('proactive');
    const browser = new BrowserCookies();
    const client = tab(browser);
    await client.register({ email, password: PASSWORD });
    const login = await client.login({ email, password: PASSWORD });
    const { tokens } = events(client);

    // A 10 s token is refreshed halfway; wait at most its whole lifetime.
    await eventually(() => tokens.length > 0, TOKEN_TTL_SECONDS * 1_000);
    expect(tokens[0]).toMatchObject({ source: 'refresh', sessionId: login.sessionId });
    expect(browser.requests('/auth/me')).toEqual([]);
    expect((await client.me()).sessionId).toBe(login.sessionId);
    expect(browser.requests('/auth/me').map((request) => request.status)).toEqual([200]);
    await client.logout();
  }, 30_000);

  it('after a reload, gets a token from the refresh cookie; a plain fetch retries its 401 once', async () => {
    const email = uniqueEmail('reload');
    const browser = new BrowserCookies();
    const first = tab(browser);
    await first.register({ email, password: PASSWORD });
    const login = await first.login({ email, password: PASSWORD });
    first.close();

    // The page is reloaded: a new client in the same browser, nothing in memory.
    const reloaded = tab(browser);
    expect(reloaded.accessToken).toBeNull();
    const answer = await reloaded.fetch('/auth/me');
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { sessionId: string }).sessionId).toBe(login.sessionId);
    expect(browser.log.slice(-3).map((request) => `${request.path} ${request.status}`)).toEqual([
      '/auth/me 401',
      '/auth/refresh 200',
      '/auth/me 200',
    ]);

    // A browser that never logged in: one refused refresh, the 401 answered, loggedout told.
    const stranger = tab(new BrowserCookies());
    const { loggedOut } = events(stranger);
    expect((await stranger.fetch('/sessions')).status).toBe(401);
    expect(loggedOut).toEqual([{ type: 'loggedout', reason: 'refresh-refused' }]);
    await reloaded.logout();
  });

  it('two tabs of one browser rotate once for concurrent 401s and end with the same token', async () => {
    const email = uniqueEmail('tabs');
    const browser = new BrowserCookies();
    // Web Locks within this process (Node has none) and Node's own BroadcastChannel.
    const locks = new InProcessLockManager();
    const crossTab = { locks, channel: (name: string) => new BroadcastChannel(name) };
    const a = tab(browser, { crossTab, proactiveRefresh: false });
    const b = tab(browser, { crossTab, proactiveRefresh: false });
    await a.register({ email, password: PASSWORD });
    const login = await a.login({ email, password: PASSWORD });
    await eventually(() => b.accessToken === a.accessToken, 2_000);

    // Something rotates the browser's cookies behind both tabs' backs (as a tab without the
    // lock would): both tokens are dead now, their fingerprint is no longer the jar's.
    const rotated = await browser.fetch(`${service.url}/auth/refresh`, {
      method: 'POST',
      credentials: 'include',
    });
    expect(rotated.status).toBe(200);
    await rotated.body?.cancel();
    const refreshesBefore = browser.requests('/auth/refresh').length;
    // A slow network for the refresh, so every 401 arrives while the first tab holds the lock.
    browser.latency.set('/auth/refresh', 200);

    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => a.fetch('/auth/me')),
      ...Array.from({ length: 5 }, () => b.fetch('/auth/me')),
    ]);

    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(browser.requests('/auth/refresh').length - refreshesBefore).toBe(1);
    // The second tab queued behind the first for the lock, then took its broadcast token.
    expect(locks.waited).toBeGreaterThanOrEqual(1);
    expect(a.accessToken).toBe(b.accessToken);
    browser.latency.clear();
    expect((await b.me()).sessionId).toBe(login.sessionId);

    // Logging out in one tab logs the other out too.
    const { loggedOut } = events(b);
    await a.logout();
    await eventually(() => b.accessToken === null, 2_000);
    expect(loggedOut).toEqual([{ type: 'loggedout', reason: 'other-tab' }]);
  }, 20_000);

  it('changes the password and deletes the account (routes the service has)', async () => {
    const email = uniqueEmail('account');
    const browser = new BrowserCookies();
    const client = tab(browser);
    const { loggedOut } = events(client);
    await client.register({ email, password: PASSWORD });
    await client.login({ email, password: PASSWORD });
    const other = tab(new BrowserCookies());
    await other.login({ email, password: PASSWORD });

    await expect(
      client.changePassword({
        currentPassword: 'not it at all',
        newPassword: 'a new long password',
      }),
    ).rejects.toMatchObject({ status: 403, code: 'CURRENT_PASSWORD_INCORRECT' });
    expect(loggedOut).toEqual([]);
    expect(
      await client.changePassword({
        currentPassword: PASSWORD,
        newPassword: 'a new long password',
      }),
    ).toEqual({ revoked: 1 });
    await expect(other.me()).rejects.toMatchObject({ status: 401 });

    await expect(client.deleteAccount({ password: PASSWORD })).rejects.toMatchObject({
      status: 403,
      code: 'CURRENT_PASSWORD_INCORRECT',
    });
    await client.deleteAccount({ password: 'a new long password' });
    expect(loggedOut).toEqual([{ type: 'loggedout', reason: 'account-deleted' }]);
    expect(browser.names()).toEqual([]);
    await expect(client.login({ email, password: 'a new long password' })).rejects.toMatchObject({
      status: 401,
    });
  });
});

describe('fingerprint-auth/client: the service’s error codes (e2e)', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await startService(
      {
        COOKIE_SECURE: 'false',
        GEOIP: 'off',
        RATE_LIMIT_LOGIN_PER_ACCOUNT: '2',
        MAX_SESSIONS_PER_USER: '1',
        SESSION_LIMIT_POLICY: 'reject',
      },
      7951,
    );
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('RATE_LIMITED with retryAfter, SESSION_LIMIT_REACHED, a list of messages for a bad body', async () => {
    const client = lib.createAuthClient({
      baseUrl: service.url,
      fetch: new BrowserCookies().fetch as typeof fetch,
    });
    const email = uniqueEmail('errors');
    await client.register({ email, password: PASSWORD });

    for (let attempt = 0; attempt < 2; attempt += 1) {
      await expect(client.login({ email, password: 'wrong' })).rejects.toMatchObject({
        status: 401,
      });
    }
    const limited = (await client
      .login({ email, password: PASSWORD })
      .catch((error: unknown) => error)) as InstanceType<ClientModule['FingerprintAuthError']>;
    expect(limited).toBeInstanceOf(lib.FingerprintAuthError);
    expect(limited).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(limited.retryAfter).toBeGreaterThan(0);

    const second = uniqueEmail('limit');
    await client.register({ email: second, password: PASSWORD });
    await client.login({ email: second, password: PASSWORD });
    const elsewhere = lib.createAuthClient({
      baseUrl: service.url,
      fetch: new BrowserCookies().fetch as typeof fetch,
    });
    await expect(elsewhere.login({ email: second, password: PASSWORD })).rejects.toMatchObject({
      status: 409,
      code: 'SESSION_LIMIT_REACHED',
    });

    const invalid = (await client
      .register({ email: 'not an email', password: 'short' })
      .catch((error: unknown) => error)) as InstanceType<ClientModule['FingerprintAuthError']>;
    expect(invalid.status).toBe(400);
    expect(invalid.messages.length).toBeGreaterThan(1);
    client.close();
    elsewhere.close();
  });

  it('works in plain Node, imported through the package’s exports as `fingerprint-auth/client`', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      files: string[];
    };
    expect(pkg.exports['./client']).toEqual({
      types: './dist/client/index.d.ts',
      import: './dist/client/index.js',
      default: './dist/client/index.js',
    });
    expect(pkg.files).toContain('dist/client/package.json');

    const app = mkdtempSync(join(tmpdir(), 'fpa-client-consumer-'));
    try {
      mkdirSync(join(app, 'node_modules'));
      symlinkSync(ROOT, join(app, 'node_modules', 'fingerprint-auth'), 'dir');
      writeFileSync(
        join(app, 'consumer.mjs'),
        [
          "import * as client from 'fingerprint-auth/client';",
          'const [baseUrl, email, password] = process.argv.slice(2);',
          'const auth = client.createAuthClient({ baseUrl });',
          'const user = await auth.register({ email, password });',
          'const error = await auth.login({ email, password: "wrong" }).catch((caught) => caught);',
          'console.log(JSON.stringify({',
          '  exports: Object.keys(client).sort(),',
          "  methods: ['register', 'login', 'refresh', 'logout', 'me', 'fetch', 'changePassword', 'deleteAccount'].filter((name) => typeof auth[name] === 'function'),",
          '  sessions: Object.keys(auth.sessions).sort(),',
          '  registered: user.email === email,',
          '  error: [error instanceof client.FingerprintAuthError, error.status, error.message],',
          '}));',
          'auth.close();',
        ].join('\n'),
      );
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['consumer.mjs', service.url, uniqueEmail('consumer'), PASSWORD],
        {
          cwd: app,
          env: { PATH: process.env.PATH ?? '' },
        },
      );
      expect(JSON.parse(stdout)).toEqual({
        exports: [
          'FingerprintAuthError',
          'channelName',
          'createAuthClient',
          'parseRetryAfter',
          'refreshLockName',
        ],
        methods: [
          'register',
          'login',
          'refresh',
          'logout',
          'me',
          'fetch',
          'changePassword',
          'deleteAccount',
        ],
        sessions: ['alerts', 'list', 'logoutAll', 'revoke'],
        registered: true,
        error: [true, 401, 'Invalid email or password'],
      });
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});

describe('fingerprint-auth/client as a package (e2e)', () => {
  const specifiers = (source: string): string[] =>
    [
      ...source.matchAll(/\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g),
      ...source.matchAll(/\bimport\s*['"]([^'"]+)['"]/g),
      ...source.matchAll(/\bimport\s*\(\s*['"]?([^'")]+)/g),
      ...source.matchAll(/\brequire\s*\(\s*['"]?([^'")]+)/g),
    ].map((match) => match[1]);

  it('is ES modules that import nothing but each other', () => {
    expect(JSON.parse(readFileSync(join(DIST_CLIENT, 'package.json'), 'utf8'))).toEqual({
      type: 'module',
    });
    const files = readdirSync(DIST_CLIENT).filter((file) => file.endsWith('.js'));
    expect(files).toEqual(
      expect.arrayContaining(['index.js', 'auth-client.js', 'errors.js', 'cross-tab.js']),
    );
    expect(specifiers(readFileSync(join(DIST_CLIENT, 'index.js'), 'utf8'))).toEqual(
      expect.arrayContaining(['./auth-client.js', './errors.js']),
    );
    for (const file of files) {
      const source = readFileSync(join(DIST_CLIENT, file), 'utf8');
      expect(source).not.toMatch(/\brequire\s*\(|\bimport\s*\(/);
      for (const specifier of specifiers(source)) {
        expect({ file, specifier }).toEqual({
          file,
          specifier: expect.stringMatching(/^\.\/[\w-]+\.js$/),
        });
        expect(existsSync(join(DIST_CLIENT, specifier))).toBe(true);
      }
    }
    // The declarations reach only each other and the contract, which itself imports nothing.
    for (const file of readdirSync(DIST_CLIENT).filter((name) => name.endsWith('.d.ts'))) {
      for (const specifier of specifiers(readFileSync(join(DIST_CLIENT, file), 'utf8'))) {
        expect(specifier).toMatch(/^(\.\/[\w-]+|\.\.\/http\/contract)\.js$/);
      }
    }
    const contract = readFileSync(join(ROOT, 'dist', 'http', 'contract.d.ts'), 'utf8');
    expect(specifiers(contract)).toEqual([]);
  });
});
