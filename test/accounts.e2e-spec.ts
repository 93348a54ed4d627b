import * as jwt from 'jsonwebtoken';
import type { LightMyRequestResponse } from 'fastify';
import { SessionRepository } from '../src/sessions/session.repository';
import { SqlDatabase } from '../src/database/database';
import { usersDb } from '../src/users/database/schema';
import { USERS_DATABASE } from '../src/users/users.module';
import { startApp, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';

const PASSWORD = 'correct horse battery staple';
const UNAUTHORIZED = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'Invalid or missing credentials',
};
const INCORRECT = {
  statusCode: 403,
  error: 'Forbidden',
  message: 'The current password is incorrect',
  code: 'CURRENT_PASSWORD_INCORRECT',
};
const uniqueEmail = () => `acct-${Math.random().toString(36).slice(2)}@example.com`;

/** Every guarded route, with a body it would accept from a signed-in caller. */
const GUARDED: ReadonlyArray<{ method: 'GET' | 'POST' | 'DELETE'; url: string; payload?: object }> =
  [
    { method: 'GET', url: '/auth/me' },
    { method: 'POST', url: '/auth/logout' },
    {
      method: 'POST',
      url: '/auth/password',
      payload: { currentPassword: PASSWORD, newPassword: 'a different passphrase' },
    },
    { method: 'GET', url: '/sessions' },
    { method: 'GET', url: '/sessions/alerts' },
    { method: 'POST', url: '/sessions/logout-all' },
    { method: 'DELETE', url: '/sessions/AAAAAAAAAAAAAAAAAAAAAA' },
    { method: 'DELETE', url: '/account', payload: { password: PASSWORD } },
  ];

const deleteAccount = (client: TestClient, password: string) =>
  client.request({ method: 'DELETE', url: '/account', payload: { password } });

function clearedCookies(response: LightMyRequestResponse): string[] {
  return ([] as string[])
    .concat(response.headers['set-cookie'] ?? [])
    .filter((cookie) => /Max-Age=0/.test(cookie))
    .map((cookie) => cookie.slice(0, cookie.indexOf('=')))
    .sort();
}

/** The refresh cookie as the browser holds it, to replay later. */
const refreshCookieOf = (client: TestClient) =>
  `__Secure-Fpa-Refresh=${client.cookies.get('__Secure-Fpa-Refresh')?.value}`;

const refreshWith = (target: TestApp, cookie: string) =>
  target.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie } });

describe('accounts (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(() => target.close());

  describe('DELETE /account', () => {
    it('deletes the account: 204, cookies cleared, and nothing of it works any more', async () => {
      const email = uniqueEmail();
      const laptop = await signedInClient(target, email, PASSWORD);
      const phone = new TestClient(target);
      await phone.login(email, PASSWORD);
      const laptopRefresh = refreshCookieOf(laptop);
      const phoneRefresh = refreshCookieOf(phone);
      // Kept as an attacker would keep them: the deletion clears the laptop's cookies.
      const kept = [laptop, phone].map((client) => {
        const copy = new TestClient(target);
        for (const [name, cookie] of client.cookies) copy.cookies.set(name, { ...cookie });
        copy.accessToken = client.accessToken;
        return copy;
      });

      const response = await deleteAccount(laptop, PASSWORD);
      expect(response.statusCode).toBe(204);
      expect(response.body).toBe('');
      expect(clearedCookies(response)).toEqual(['__Host-Fgp', '__Secure-Fpa-Refresh']);

      for (const client of kept) {
        const { exp } = jwt.decode(client.accessToken as string) as jwt.JwtPayload;
        expect(exp).toBeGreaterThan(Math.floor(Date.now() / 1000) + 60);
        for (const route of GUARDED) {
          const answer = await client.request(route);
          expect({ route: route.url, status: answer.statusCode, body: answer.json() }).toEqual({
            route: route.url,
            status: 401,
            body: UNAUTHORIZED,
          });
        }
      }
      for (const cookie of [laptopRefresh, phoneRefresh]) {
        const refreshed = await refreshWith(target, cookie);
        expect({ status: refreshed.statusCode, body: refreshed.json() }).toEqual({
          status: 401,
          body: UNAUTHORIZED,
        });
      }
      const login = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      });
      expect(login.statusCode).toBe(401);

      // The email is free again, for a new account with its own password.
      const again = await new TestClient(target).register(email, 'a whole new passphrase');
      expect(again.statusCode).toBe(201);
      const newcomer = new TestClient(target);
      await newcomer.login(email, 'a whole new passphrase');
      expect((await newcomer.get('/auth/me')).json()).toMatchObject({ email });
      const old = await target.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD },
      });
      expect(old.statusCode).toBe(401);
    });

    it('refuses a wrong password with 403 CURRENT_PASSWORD_INCORRECT and changes nothing', async () => {
      const email = uniqueEmail();
      const laptop = await signedInClient(target, email, PASSWORD);
      const phone = new TestClient(target);
      await phone.login(email, PASSWORD);

      const response = await deleteAccount(laptop, 'not my password');
      expect({ status: response.statusCode, body: response.json() }).toEqual({
        status: 403,
        body: INCORRECT,
      });
      expect(response.headers['set-cookie']).toBeUndefined();

      expect((await laptop.get('/auth/me')).statusCode).toBe(200);
      expect((await phone.get('/auth/me')).statusCode).toBe(200);
      expect((await laptop.refresh()).statusCode).toBe(200);
      expect((await laptop.get('/sessions')).json().sessions).toHaveLength(2);
      await expect(new TestClient(target).login(email, PASSWORD)).resolves.toBeDefined();
    });

    it.each([
      ['no body', undefined],
      ['no password', {}],
      ['an empty password', { password: '' }],
      ['a password of the wrong type', { password: 12345678 }],
      ['an unknown field', { password: PASSWORD, force: true }],
    ])('answers %s with 400 and deletes nothing', async (_, payload) => {
      const client = await signedInClient(target, uniqueEmail(), PASSWORD);
      const response = await client.request({ method: 'DELETE', url: '/account', payload });
      expect(response.statusCode).toBe(400);
      expect((await client.get('/auth/me')).statusCode).toBe(200);
    });

    it('needs a signed-in caller', async () => {
      const response = await new TestClient(target).request({
        method: 'DELETE',
        url: '/account',
        payload: { password: PASSWORD },
      });
      expect({ status: response.statusCode, body: response.json() }).toEqual({
        status: 401,
        body: UNAUTHORIZED,
      });
    });

    describe('a login racing the deletion', () => {
      /** Holds the next call of `method` on the app's session store until released. */
      function holdNext(method: 'create' | 'revokeAllForUser') {
        const store = target.app.get(SessionRepository);
        const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
        let reached!: () => void;
        let release!: () => void;
        const entered = new Promise<void>((resolve) => (reached = resolve));
        const gate = new Promise<void>((resolve) => (release = resolve));
        const spy = jest.spyOn(store, method).mockImplementationOnce((async (
          ...args: unknown[]
        ) => {
          reached();
          await gate;
          return original(...args);
        }) as never);
        return { entered, release, restore: () => spy.mockRestore() };
      }

      it('stores its session after the deletion: it revokes it itself and answers 401', async () => {
        const email = uniqueEmail();
        const owner = await signedInClient(target, email, PASSWORD);
        const userId = (await owner.get('/auth/me')).json().id as string;
        const hold = holdNext('create');
        try {
          const racer = new TestClient(target);
          // Authenticated (the user existed), now storing its session...
          const login = racer.post('/auth/login', { email, password: PASSWORD });
          await hold.entered;
          // ...while the whole deletion runs.
          expect((await deleteAccount(owner, PASSWORD)).statusCode).toBe(204);
          hold.release();
          const answer = await login;
          expect({ status: answer.statusCode, body: answer.json() }).toMatchObject({
            status: 401,
          });
          expect(answer.body).not.toContain('accessToken');
          expect(answer.headers['set-cookie']).toBeUndefined();
          expect(await target.app.get(SessionRepository).listByUser(userId)).toEqual([]);
        } finally {
          hold.release();
          hold.restore();
        }
      });

      it('stores its session between the two sweeps: the second one ends it', async () => {
        const email = uniqueEmail();
        const owner = await signedInClient(target, email, PASSWORD);
        const userId = (await owner.get('/auth/me')).json().id as string;
        const store = target.app.get(SessionRepository);
        const original = store.revokeAllForUser.bind(store);
        // Let the first sweep run, then hold the deletion right after it.
        let swept!: () => void;
        let resume!: () => void;
        const firstSweepDone = new Promise<void>((resolve) => (swept = resolve));
        const gate = new Promise<void>((resolve) => (resume = resolve));
        const spy = jest
          .spyOn(store, 'revokeAllForUser')
          .mockImplementationOnce(async (...args) => {
            const count = await original(...args);
            swept();
            await gate;
            return count;
          });
        try {
          const deletion = deleteAccount(owner, PASSWORD);
          await firstSweepDone;
          const racer = new TestClient(target);
          await racer.login(email, PASSWORD);
          expect((await racer.get('/auth/me')).statusCode).toBe(200);
          resume();
          expect((await deletion).statusCode).toBe(204);
          expect(await store.listByUser(userId)).toEqual([]);
          // A route that never looks at the user row: only the session decides.
          expect((await racer.get('/sessions')).statusCode).toBe(401);
          expect((await racer.refresh()).statusCode).toBe(401);
        } finally {
          resume();
          spy.mockRestore();
        }
      });
    });
  });

  describe('a user deleted outside the service (straight in the database)', () => {
    it('is refused at refresh (401), every session of it ends, and the event is counted', async () => {
      const email = uniqueEmail();
      const laptop = await signedInClient(target, email, PASSWORD);
      const phone = new TestClient(target);
      await phone.login(email, PASSWORD);
      const userId = (await laptop.get('/auth/me')).json().id as string;
      const metric = async () => {
        const text = (await target.inject({ method: 'GET', url: '/metrics' })).body;
        const line = /^fpa_session_revocations_total\{reason="user_missing"\} (\d+)$/m.exec(text);
        return Number(line?.[1] ?? 0);
      };
      const before = await metric();

      const db = usersDb(target.app.get<SqlDatabase>(USERS_DATABASE));
      const deleted = await db.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
      expect(Number(deleted.numDeletedRows)).toBe(1);

      const refreshed = await laptop.refresh();
      expect({ status: refreshed.statusCode, body: refreshed.json() }).toEqual({
        status: 401,
        body: UNAUTHORIZED,
      });
      expect(refreshed.headers['set-cookie']).toBeUndefined();
      // The access tokens of both devices are refused from now on, and so is the other refresh.
      expect((await laptop.get('/sessions')).statusCode).toBe(401);
      expect((await phone.get('/sessions')).statusCode).toBe(401);
      expect((await phone.refresh()).statusCode).toBe(401);
      expect(await target.app.get(SessionRepository).listByUser(userId)).toEqual([]);
      expect((await metric()) - before).toBe(2);
    });

    it('a refresh of a user who still exists is unaffected', async () => {
      const client = await signedInClient(target, uniqueEmail(), PASSWORD);
      expect((await client.refresh()).statusCode).toBe(200);
      expect((await client.get('/auth/me')).statusCode).toBe(200);
    });
  });

  describe('POST /auth/password with a wrong current password', () => {
    it('answers 403 CURRENT_PASSWORD_INCORRECT; this session and every other one stay', async () => {
      const email = uniqueEmail();
      const laptop = await signedInClient(target, email, PASSWORD);
      const phone = new TestClient(target);
      await phone.login(email, PASSWORD);
      const response = await laptop.post('/auth/password', {
        currentPassword: 'not the password',
        newPassword: 'a brand new passphrase',
      });
      expect({ status: response.statusCode, body: response.json() }).toEqual({
        status: 403,
        body: INCORRECT,
      });
      expect((await laptop.get('/auth/me')).statusCode).toBe(200);
      expect((await phone.get('/auth/me')).statusCode).toBe(200);
      expect((await laptop.get('/sessions')).json().sessions).toHaveLength(2);
      await expect(new TestClient(target).login(email, PASSWORD)).resolves.toBeDefined();
    });
  });
});
