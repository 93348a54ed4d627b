import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { startService, ServiceProcess } from '../support/process';
import { describeNeeding, describeWithChromium } from '../support/services';

/*
 * The Next.js example (examples/nextjs), built with `next build` and run with `next start`, against
 * the service process, clicked through in Chromium: log in, a reload, two tabs whose token expires
 * at the same moment, a revocation and logout-all from another browser, logout.
 */

/** Ports 7960-7969: the service and the Next.js app, two origins of one site (localhost). */
const API_PORT = 7960;
const APP_PORT = 7961;
const API = `http://localhost:${API_PORT}`;
const APP = `http://localhost:${APP_PORT}`;
const ROOT = join(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'nextjs');
const PASSWORD = 'correct horse battery staple';
const TOKEN_TTL_SECONDS = 10; // the shortest ACCESS_TOKEN_TTL the service accepts
/** The longest any one step may take: a page to show something, a click, a navigation. */
const STEP_MS = 15_000;
/** `next build` takes about 15 s on two cores; scripts/build-nextjs-example.js stops it at this. */
const BUILD_TIMEOUT_SECONDS = 300;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const installed =
  existsSync(join(EXAMPLE, 'node_modules', 'next', 'package.json')) &&
  existsSync(join(EXAMPLE, 'node_modules', 'fingerprint-auth', 'package.json'));

/** Runs `node <args>` from the repository's root; rejects with its output on failure or after `timeoutMs`. */
function runNode(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM'); // the build script kills its build on SIGTERM
      reject(new Error(`node ${args.join(' ')} still running after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`node ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

interface NextApp {
  stop(): Promise<void>;
}

/** `next start` on APP_PORT (one process); resolves once it serves pages. */
async function startNextApp(): Promise<NextApp> {
  const next = require.resolve('next/dist/bin/next', { paths: [EXAMPLE] });
  const child: ChildProcess = spawn(
    process.execPath,
    [next, 'start', '--port', String(APP_PORT), '--hostname', '127.0.0.1'],
    {
      cwd: EXAMPLE,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        NEXT_TELEMETRY_DISABLED: '1',
        AUTH_API_URL: API,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`next start exited with ${child.exitCode}:\n${output}`);
    try {
      const response = await fetch(`http://127.0.0.1:${APP_PORT}/login`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`next start did not serve /login within 30 s:\n${output}`);
    }
    await sleep(200);
  }
  return { stop };
}

const byTestId = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`);

/** Waits (bounded) until the element `data-testid=id` shows exactly `text`. */
async function shows(page: Page, id: string, text: string): Promise<void> {
  const exactly = new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  await byTestId(page, id).filter({ hasText: exactly }).first().waitFor({ timeout: STEP_MS });
}

async function textOf(page: Page, id: string): Promise<string> {
  return ((await byTestId(page, id).first().textContent({ timeout: STEP_MS })) ?? '').trim();
}

/** The answers to one route of the service seen by `page`, as statuses. */
function answersTo(page: Page, method: string, path: string): number[] {
  const statuses: number[] = [];
  page.on('response', (response) => {
    if (response.url() === `${API}${path}` && response.request().method() === method) {
      statuses.push(response.status());
    }
  });
  return statuses;
}

/** Clicks "Check again" on the account page and waits for the GET /auth/me answered `status`. */
async function checkAgain(page: Page, status: 200 | 401): Promise<void> {
  const answered = page.waitForResponse(
    (response) =>
      response.url() === `${API}/auth/me` &&
      response.request().method() === 'GET' &&
      response.status() === status,
    { timeout: STEP_MS },
  );
  await page.getByRole('button', { name: 'Check again', exact: true }).click();
  await answered;
}

/** What script on the page could find: both storages and document.cookie, as one string. */
function storage(page: Page): Promise<string> {
  return page.evaluate<string>(
    'JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])',
  );
}

describeWithChromium('the Next.js example (examples/nextjs) in Chromium', (executablePath) => {
  describeNeeding(
    "examples/nextjs/node_modules (the example's own dependencies)",
    installed,
    'built, started and clicked through',
    () => {
      let dir: string;
      let service: ServiceProcess;
      let app: NextApp | undefined;
      let browser: Browser;
      let laptop: BrowserContext;
      let phone: BrowserContext;
      let tab1: Page;
      let tab2: Page;
      let phoneTab: Page;
      let laptopSession: string;
      const email = `nextjs-${randomBytes(4).toString('hex')}@example.com`;
      /** Requests to the Next.js server that carried an Authorization header: there must be none. */
      const tokenSentToNext: string[] = [];

      async function newContext(): Promise<BrowserContext> {
        const context = await browser.newContext();
        context.setDefaultTimeout(STEP_MS);
        context.setDefaultNavigationTimeout(STEP_MS);
        context.on('request', (request) => {
          if (request.url().startsWith(APP) && request.headers().authorization !== undefined) {
            tokenSentToNext.push(request.url());
          }
        });
        return context;
      }

      /** Logs in through the login page; resolves with the session id the account page shows. */
      async function logIn(page: Page): Promise<string> {
        await page.goto(`${APP}/login`);
        await page.getByLabel('Email', { exact: true }).fill(email);
        await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await page.getByRole('button', { name: 'Log in', exact: true }).click();
        await shows(page, 'me-email', email);
        return textOf(page, 'me-session');
      }

      beforeAll(
        async () => {
          // Built once, or found built from the same sources (see the script).
          await runNode(
            [
              join(ROOT, 'scripts', 'build-nextjs-example.js'),
              '--timeout',
              String(BUILD_TIMEOUT_SECONDS),
            ],
            (BUILD_TIMEOUT_SECONDS + 20) * 1000,
          );
          dir = mkdtempSync(join(tmpdir(), 'fpa-nextjs-'));
          // Production settings: __Host-Fgp and __Secure-Fpa-Refresh, Secure. Chromium keeps Secure
          // cookies from http://localhost, so COOKIE_SECURE stays true, as behind HTTPS.
          service = await startService(
            {
              NODE_ENV: 'production',
              JWT_SECRET: randomBytes(48).toString('base64url'),
              DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
              CORS_ORIGINS: APP,
              ACCESS_TOKEN_TTL: `${TOKEN_TTL_SECONDS}s`,
              GEOIP: 'off',
            },
            API_PORT,
          );
          app = await startNextApp();
          browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
          laptop = await newContext();
          phone = await newContext();
        },
        (BUILD_TIMEOUT_SECONDS + 90) * 1000,
      );

      afterAll(async () => {
        await browser?.close();
        await app?.stop();
        await service?.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it('renders public data on the server: the service answers', async () => {
        const page = await laptop.newPage();
        await page.goto(`${APP}/`);
        await shows(page, 'service-status', 'Service: up');
        await page.close();
      });

      it('registers and logs in; the token stays in memory and a reload keeps the user logged in', async () => {
        tab1 = await laptop.newPage();
        await tab1.goto(`${APP}/register`);
        await shows(tab1, 'auth-status', 'Not signed in'); // the start-up refresh found no session
        await tab1.getByLabel('Email', { exact: true }).fill(email);
        await tab1.getByLabel('Password', { exact: true }).fill(PASSWORD);
        const login = tab1.waitForResponse(
          (response) =>
            response.url() === `${API}/auth/login` && response.request().method() === 'POST',
        );
        await tab1.getByRole('button', { name: 'Create account', exact: true }).click();
        const { accessToken } = (await (await login).json()) as { accessToken: string };
        await shows(tab1, 'me-email', email);
        await shows(tab1, 'auth-status', 'Signed in');
        laptopSession = await textOf(tab1, 'me-session');
        expect(laptopSession).toMatch(/\S/);

        // The cookies are the browser's, HttpOnly; the token is in no storage script could read.
        // Every cookie of the browser (the refresh cookie's Path is /auth/refresh).
        const jar = await laptop.cookies();
        expect(jar.map((cookie) => [cookie.name, cookie.httpOnly, cookie.secure]).sort()).toEqual([
          ['__Host-Fgp', true, true],
          ['__Secure-Fpa-Refresh', true, true],
        ]);
        const stored = await storage(tab1);
        expect(stored).not.toContain(accessToken);
        expect(stored).toBe('[[],[],""]');
        expect(await tab1.evaluate<number>('indexedDB.databases().then((all) => all.length)')).toBe(
          0,
        );

        // A reload loses the token; the start-up refresh gets one from the refresh cookie.
        const refreshed = tab1.waitForResponse(
          (response) =>
            response.url() === `${API}/auth/refresh` && response.request().method() === 'POST',
        );
        await tab1.reload();
        expect((await refreshed).status()).toBe(200);
        await shows(tab1, 'me-email', email);
        expect(await textOf(tab1, 'me-session')).toBe(laptopSession);
        expect(await storage(tab1)).toBe('[[],[],""]');
      });

      it('two tabs whose token expires at the same moment both recover, and the session lives on', async () => {
        // The second tab's start-up refresh rotates the browser's cookies; the first tab gets the
        // new token over the tab channel, so both hold the same token, expiring at the same moment.
        tab2 = await laptop.newPage();
        await tab2.goto(`${APP}/me`);
        await shows(tab2, 'me-email', email);
        expect(await textOf(tab2, 'me-session')).toBe(laptopSession);
        await checkAgain(tab1, 200);

        // The network goes away for longer than the token lives: the timers' refreshes fail (and
        // end nothing), so when it comes back both tabs hold the same expired token.
        let refreshesLost = 0;
        await laptop.route(`${API}/auth/refresh`, (route) => {
          refreshesLost += 1;
          return route.abort('internetdisconnected');
        });
        await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
        await laptop.unroute(`${API}/auth/refresh`);
        expect(refreshesLost).toBeGreaterThan(0);

        const first = answersTo(tab1, 'GET', '/auth/me');
        const second = answersTo(tab2, 'GET', '/auth/me');
        await Promise.all([checkAgain(tab1, 200), checkAgain(tab2, 200)]);
        await Promise.all([shows(tab1, 'me-email', email), shows(tab2, 'me-email', email)]);
        // Whichever tab asked first sent the expired token (nothing had refreshed it meanwhile).
        expect([first[0], second[0]]).toContain(401);
        expect(first.at(-1)).toBe(200);
        expect(second.at(-1)).toBe(200);
        expect(await textOf(tab1, 'me-session')).toBe(laptopSession);
        expect(await textOf(tab2, 'me-session')).toBe(laptopSession);

        // Not taken for a stolen credential: no reuse detected, the session is listed, and a
        // reload still gets a token from the browser's refresh cookie.
        expect(service.output()).not.toContain('refresh_reuse');
        await tab2.goto(`${APP}/devices`);
        await tab2.locator(`tr[data-session-id="${laptopSession}"]`).waitFor();
        await tab1.reload();
        await shows(tab1, 'me-email', email);
        expect(await textOf(tab1, 'me-session')).toBe(laptopSession);
      });

      it('lists the devices; revoking a session from another browser logs that browser out on its next request', async () => {
        phoneTab = await phone.newPage();
        const phoneSession = await logIn(phoneTab);
        expect(phoneSession).not.toBe(laptopSession);

        await phoneTab.goto(`${APP}/devices`);
        const rows = phoneTab.locator('tr[data-session-id]');
        const laptopRow = phoneTab.locator(`tr[data-session-id="${laptopSession}"]`);
        const phoneRow = phoneTab.locator(`tr[data-session-id="${phoneSession}"]`);
        await laptopRow.waitFor();
        await phoneRow.waitFor();
        expect(await rows.count()).toBe(2);
        expect(await phoneRow.textContent()).toContain('This device');
        expect(await laptopRow.textContent()).not.toContain('This device');
        // Device from the user agent (HeadlessChrome on Linux), no location with GeoIP off, and
        // the last activity as a date.
        expect(await laptopRow.getByTestId('device').textContent()).toMatch(/Chrome.* on Linux/);
        expect(await laptopRow.getByTestId('location').textContent()).toBe('Unknown');
        const lastActivity = (await laptopRow.getByTestId('last-activity').textContent()) ?? '';
        expect(Number.isNaN(Date.parse(lastActivity))).toBe(false);

        await laptopRow.getByRole('button', { name: 'Revoke', exact: true }).click();
        await laptopRow.waitFor({ state: 'detached' });
        expect(await rows.count()).toBe(1);

        // The laptop's next request is refused, its refresh too: logged out, in both tabs.
        await checkAgain(tab1, 401);
        await byTestId(tab1, 'signed-out').waitFor();
        await shows(tab1, 'auth-status', 'Not signed in');
        await shows(tab2, 'auth-status', 'Not signed in');
      });

      it('logs out every other device', async () => {
        const again = await logIn(tab1);
        await phoneTab.getByRole('button', { name: 'Refresh the list', exact: true }).click();
        await phoneTab.locator(`tr[data-session-id="${again}"]`).waitFor();

        await phoneTab
          .getByRole('button', { name: 'Log out all other devices', exact: true })
          .click();
        await phoneTab.getByText('Ended 1 other session.').waitFor();
        await phoneTab.locator(`tr[data-session-id="${again}"]`).waitFor({ state: 'detached' });
        expect(await phoneTab.locator('tr[data-session-id]').count()).toBe(1);

        await checkAgain(tab1, 401);
        await byTestId(tab1, 'signed-out').waitFor();
        await shows(tab1, 'auth-status', 'Not signed in');
      });

      it('logout clears everything: no token, no cookie, the guarded page shows logged out, also after a reload', async () => {
        await phoneTab.goto(`${APP}/me`);
        await shows(phoneTab, 'me-email', email);
        const loggedOut = phoneTab.waitForResponse(
          (response) =>
            response.url() === `${API}/auth/logout` && response.request().method() === 'POST',
        );
        await phoneTab.getByRole('button', { name: 'Log out', exact: true }).click();
        expect((await loggedOut).status()).toBe(204);
        await shows(phoneTab, 'auth-status', 'Not signed in');
        expect(await phone.cookies()).toEqual([]);
        expect(await storage(phoneTab)).toBe('[[],[],""]');

        // The guarded page: shown as logged out, and its request goes without a token.
        await phoneTab.goto(`${APP}/me`);
        await byTestId(phoneTab, 'signed-out').waitFor();
        const sent = phoneTab.waitForRequest(
          (request) => request.url() === `${API}/auth/me` && request.method() === 'GET',
        );
        await checkAgain(phoneTab, 401);
        expect((await sent).headers().authorization).toBeUndefined();
        await byTestId(phoneTab, 'signed-out').waitFor();

        // A reload stays logged out: there is no refresh cookie left to trade.
        const refreshed = phoneTab.waitForResponse(
          (response) =>
            response.url() === `${API}/auth/refresh` && response.request().method() === 'POST',
        );
        await phoneTab.reload();
        expect((await refreshed).status()).toBe(401);
        await byTestId(phoneTab, 'signed-out').waitFor();
        await shows(phoneTab, 'auth-status', 'Not signed in');
      });

      it('never sent the token to the Next.js server', () => {
        expect(tokenSentToNext).toEqual([]);
      });
    },
  );
});
