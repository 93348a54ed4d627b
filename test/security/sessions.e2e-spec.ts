import * as jwt from 'jsonwebtoken';
import { startApp, TestApp } from '../support/app';
import { signedInClient, TestClient } from '../support/client';

const PASSWORD = 'correct horse battery staple';
const UNAUTHORIZED = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'Invalid or missing credentials',
};
const uniqueEmail = () => `ses-${Math.random().toString(36).slice(2)}@example.com`;

/** The token has not expired by its own clock: only the session can be why it fails. */
function expectUnexpired(token: string): void {
  const { exp } = jwt.decode(token) as jwt.JwtPayload;
  expect(exp).toBeGreaterThan(Math.floor(Date.now() / 1000) + 60);
}

async function expectRejected(client: TestClient): Promise<void> {
  const response = await client.get('/auth/me');
  expect({ status: response.statusCode, body: response.json() }).toEqual({
    status: 401,
    body: UNAUTHORIZED,
  });
}

const sessionIds = async (client: TestClient): Promise<string[]> =>
  ((await client.get('/sessions')).json().sessions as Array<{ id: string }>)
    .map((session) => session.id)
    .sort();

describe('sessions under attack (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(() => target.close());

  describe('a valid token of an ended session', () => {
    it('is refused once the session is revoked from another device', async () => {
      const email = uniqueEmail();
      const laptop = await signedInClient(target, email);
      const phone = new TestClient(target);
      await phone.login(email, PASSWORD);
      expect((await laptop.delete(`/sessions/${phone.sessionId}`)).statusCode).toBe(204);
      expectUnexpired(phone.accessToken as string);
      await expectRejected(phone);
      expect((await phone.refresh()).statusCode).toBe(401);
      expect((await laptop.get('/auth/me')).statusCode).toBe(200);
    });

    it('is refused after logout, with the kept cookie and refresh credential too', async () => {
      const client = await signedInClient(target);
      const kept = new TestClient(target);
      kept.accessToken = client.accessToken;
      for (const [name, cookie] of client.cookies) kept.cookies.set(name, { ...cookie });
      expect((await client.post('/auth/logout')).statusCode).toBe(204);
      expectUnexpired(kept.accessToken as string);
      await expectRejected(kept);
      expect((await kept.refresh()).statusCode).toBe(401);
    });

    it('is refused once the session has been idle past SESSION_IDLE_TTL', async () => {
      const client = await signedInClient(target);
      target.clock.advance(29 * 60_000);
      expect((await client.get('/auth/me')).statusCode).toBe(200);
      target.clock.advance(31 * 60_000);
      expectUnexpired(client.accessToken as string);
      await expectRejected(client);
    });

    it('is refused past SESSION_ABSOLUTE_TTL however active the session was', async () => {
      const client = await signedInClient(target);
      let elapsed = 0;
      // Active every 25 minutes: idle expiry never hits, the 8 h limit does.
      while (elapsed + 25 < 8 * 60) {
        target.clock.advance(25 * 60_000);
        elapsed += 25;
        expect({ elapsed, status: (await client.get('/auth/me')).statusCode }).toEqual({
          elapsed,
          status: 200,
        });
      }
      target.clock.advance(25 * 60_000);
      expectUnexpired(client.accessToken as string);
      await expectRejected(client);
    });
  });

  describe("DELETE /sessions/:id with someone else's or a strange id", () => {
    let attacker: TestClient;
    let victim: TestClient;

    beforeAll(async () => {
      attacker = await signedInClient(target);
      victim = await signedInClient(target);
    });

    it("answers another user's session id like an unknown one (404) and ends nothing", async () => {
      const before = await sessionIds(victim);
      const theirs = await attacker.delete(`/sessions/${victim.sessionId}`);
      const unknown = await attacker.delete(`/sessions/${'A'.repeat(22)}`);
      expect(theirs.statusCode).toBe(404);
      expect(theirs.json()).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'Session not found',
      });
      expect(unknown.body).toBe(theirs.body);
      expect((await victim.get('/auth/me')).statusCode).toBe(200);
      expect(await sessionIds(victim)).toEqual(before);
    });

    it.each([
      ['a path traversal', '..%2F..%2Fsessions'],
      ['a raw ../', '../'],
      ['an encoded dot segment', '%2E%2E'],
      ['10 KB of characters', 'a'.repeat(10_000)],
      ['an object', encodeURIComponent(JSON.stringify({ $ne: '' }))],
      ['[object Object]', '[object%20Object]'],
      ['a NUL byte', `${'A'.repeat(21)}%00`],
      ['SQL', encodeURIComponent("' OR 1=1 --")],
      ['a wildcard', '*'],
      ['an id in another case', 'x'],
    ])('answers %s with 404 (or 401), never a 500, and ends nothing', async (_, raw) => {
      const id = raw === 'x' ? (victim.sessionId as string).toUpperCase() : raw;
      const before = await sessionIds(victim);
      const ownBefore = await sessionIds(attacker);
      const response = await attacker.delete(`/sessions/${id}`);
      // Dot segments resolve to a path with no route; the rest reach no session.
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
      expect(response.body).not.toMatch(/stack|\.ts:\d+/);
      expect(response.body.length).toBeLessThan(200);
      expect(await sessionIds(victim)).toEqual(before);
      expect(await sessionIds(attacker)).toEqual(ownBefore);
      expect((await attacker.get('/auth/me')).statusCode).toBe(200);
    });
  });
});
