import { errorBody, FakeAuthService, json } from '../../test/support/fake-auth-service';
import { InProcessLockManager } from '../../test/support/web-locks';
import type { AuthClient, AuthClientOptions, LoggedOutEvent, TokenEvent } from './index';
import { createAuthClient, FingerprintAuthError, parseRetryAfter } from './index';

const PASSWORD = 'correct horse battery staple';
const clients: AuthClient[] = [];

function clientOf(service: FakeAuthService, options: Partial<AuthClientOptions> = {}): AuthClient {
  const client = createAuthClient({
    baseUrl: service.base,
    fetch: service.fetch as typeof fetch,
    crossTab: false,
    ...options,
  });
  clients.push(client);
  return client;
}

async function signedIn(service: FakeAuthService, options: Partial<AuthClientOptions> = {}) {
  const client = clientOf(service, options);
  await client.login({ email: 'alice@example.com', password: PASSWORD });
  return client;
}

function record(client: AuthClient) {
  const loggedOut: LoggedOutEvent[] = [];
  const tokens: TokenEvent[] = [];
  client.addEventListener('loggedout', (event) => loggedOut.push(event));
  client.addEventListener('token', (event) => tokens.push(event));
  return { loggedOut, tokens };
}

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  jest.useRealTimers();
});

describe('the access token', () => {
  it('is kept after login and sent as a bearer token with credentials on every call', async () => {
    const service = new FakeAuthService();
    const client = await signedIn(service);
    expect(client.accessToken).toMatch(/^token-/);
    expect(client.sessionId).toBe(service.session?.id);

    await client.me();
    await client.sessions.list();
    const notes = await client.fetch('/notes');
    expect(notes.status).toBe(404);

    expect(service.calls.map((call) => call.credentials)).toEqual(
      service.calls.map(() => 'include'),
    );
    for (const path of ['/auth/me', '/sessions', '/notes']) {
      expect(service.callsTo(path)[0].authorization).toBe(`Bearer ${client.accessToken}`);
    }
    expect(JSON.parse(service.callsTo('/auth/login')[0].body ?? '')).toEqual({
      email: 'alice@example.com',
      password: PASSWORD,
    });
  });

  it('is never written to localStorage, sessionStorage or document.cookie', async () => {
    const touched: string[] = [];
    const trap = (name: string) => {
      Object.defineProperty(globalThis, name, {
        configurable: true,
        get() {
          touched.push(name);
          return undefined;
        },
      });
    };
    for (const name of ['localStorage', 'sessionStorage', 'document', 'indexedDB']) trap(name);
    try {
      const service = new FakeAuthService();
      const client = await signedIn(service, { crossTab: false });
      await client.me();
      service.expireTokens();
      await client.me();
      await client.logout();
    } finally {
      for (const name of ['localStorage', 'sessionStorage', 'document', 'indexedDB']) {
        delete (globalThis as Record<string, unknown>)[name];
      }
    }
    expect(touched).toEqual([]);
  });

  it('is fetched with a refresh first when a guarded call finds none (after a page load)', async () => {
    const service = new FakeAuthService();
    await signedIn(service);
    // A reload: a new client in the same browser (same cookie jar), no token in memory.
    const reloaded = clientOf(service);
    const { tokens } = record(reloaded);
    service.calls.length = 0;

    expect((await reloaded.me()).sessionId).toBe(service.session?.id);
    expect(service.calls.map((call) => call.path)).toEqual(['/auth/refresh', '/auth/me']);
    expect(tokens.map((event) => event.source)).toEqual(['refresh']);
  });

  it('goes only to URLs under baseUrl, which may carry a prefix', async () => {
    const service = new FakeAuthService();
    const client = await signedIn(service);
    await expect(client.fetch('https://evil.example.test/steal')).rejects.toThrow(TypeError);
    await expect(client.fetch('https://api.example.test.evil.test/x')).rejects.toThrow(TypeError);
    expect((await client.fetch(`${service.base}/auth/me`)).status).toBe(200);

    const seen: string[] = [];
    const prefixed = createAuthClient({
      baseUrl: 'https://example.test/api/',
      fetch: (async (input: string | URL) => {
        seen.push(String(input));
        return json(200, {});
      }) as typeof fetch,
      crossTab: false,
    });
    clients.push(prefixed);
    await prefixed.fetch('/notes');
    await prefixed.fetch('notes/1');
    expect(seen).toEqual(['https://example.test/api/notes', 'https://example.test/api/notes/1']);
    expect(() => createAuthClient({ baseUrl: 'not a url', crossTab: false })).toThrow(TypeError);
  });
});

describe('refresh on 401', () => {
  it('shares one POST /auth/refresh between 10 concurrent 401s and retries each once', async () => {
    const service = new FakeAuthService();
    service.routes.set('GET /notes', () => json(200, { notes: [] }));
    const client = await signedIn(service);
    const first = client.accessToken;
    service.expireTokens();
    service.calls.length = 0;

    const answers = await Promise.all(Array.from({ length: 10 }, () => client.fetch('/notes')));

    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(service.refreshes).toBe(1);
    const notes = service.callsTo('/notes');
    expect(notes).toHaveLength(20);
    expect(notes.filter((call) => call.authorization === `Bearer ${first}`)).toHaveLength(10);
    expect(
      notes.filter((call) => call.authorization === `Bearer ${client.accessToken}`),
    ).toHaveLength(10);
  });

  it('retries a request only once, a POST too, and answers the second 401', async () => {
    const service = new FakeAuthService();
    let posts = 0;
    service.routes.set('POST /orders', () => {
      posts += 1;
      return json(201, {});
    });
    const client = await signedIn(service);
    // Every guarded answer is a 401, with the new token too.
    service.guardedAnswer = () => json(401, errorBody(401, 'Unauthorized', 'no'));
    service.calls.length = 0;

    const answer = await client.fetch('/orders', { method: 'POST', body: '{"item":1}' });

    expect(answer.status).toBe(401);
    expect(service.callsTo('/orders')).toHaveLength(2);
    expect(service.refreshes).toBe(1);
    expect(posts).toBe(0);
  });

  it('does not retry a request whose body was a stream (it cannot be sent twice)', async () => {
    const service = new FakeAuthService();
    const client = await signedIn(service);
    service.expireTokens();
    service.calls.length = 0;
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{}'));
        controller.close();
      },
    });
    const answer = await client.fetch('/orders', {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit);
    expect(answer.status).toBe(401);
    expect(service.calls.map((call) => call.path)).toEqual(['/orders']);
  });

  it('after a 401 that raced a finished refresh, retries with the new token without refreshing again', async () => {
    const service = new FakeAuthService();
    service.routes.set('GET /slow', () => json(200, {}));
    const client = await signedIn(service);
    const old = client.accessToken as string;
    // A request goes out with the old token and is answered only after a refresh finished.
    let open!: () => void;
    service.gates.set('/slow', new Promise<void>((resolve) => (open = resolve)));
    const slow = client.fetch('/slow');
    await client.refresh();
    service.gates.delete('/slow');
    open();

    expect((await slow).status).toBe(200);
    expect(service.refreshes).toBe(1);
    expect(service.callsTo('/slow').map((call) => call.authorization)).toEqual([
      `Bearer ${old}`,
      `Bearer ${client.accessToken}`,
    ]);
  });

  it('emits loggedout once, forgets the token and answers the 401 when the refresh is refused', async () => {
    const service = new FakeAuthService();
    service.routes.set('GET /notes', () => json(200, {}));
    const onLoggedOut = jest.fn();
    const client = await signedIn(service, { onLoggedOut });
    const { loggedOut } = record(client);
    service.session = null; // ended elsewhere (revoked, expired)

    const answers = await Promise.all([client.fetch('/notes'), client.fetch('/notes')]);

    expect(answers.map((answer) => answer.status)).toEqual([401, 401]);
    expect(service.refreshes).toBe(1);
    expect(client.accessToken).toBeNull();
    expect(loggedOut).toEqual([{ type: 'loggedout', reason: 'refresh-refused' }]);
    expect(onLoggedOut).toHaveBeenCalledTimes(1);

    await expect(client.me()).rejects.toMatchObject({ status: 401 });
    expect(loggedOut).toHaveLength(1);
  });

  it('keeps the session when the refresh is rate-limited or the store is down, and says why', async () => {
    const service = new FakeAuthService();
    const client = await signedIn(service);
    const { loggedOut } = record(client);
    service.expireTokens();
    service.refreshAnswer = () =>
      json(429, errorBody(429, 'Too Many Requests', 'Too many attempts', 'RATE_LIMITED'), {
        'retry-after': '42',
      });

    const error = await client.fetch('/auth/me').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FingerprintAuthError);
    expect(error).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfter: 42 });

    service.refreshAnswer = () =>
      json(
        503,
        errorBody(
          503,
          'Service Unavailable',
          'The sessions store is unavailable',
          'STORE_UNAVAILABLE',
        ),
        { 'retry-after': '5' },
      );
    await expect(client.me()).rejects.toMatchObject({
      status: 503,
      code: 'STORE_UNAVAILABLE',
      retryAfter: 5,
    });
    expect(loggedOut).toEqual([]);
    expect(client.accessToken).not.toBeNull();
  });
});

describe('proactive refresh', () => {
  it('refreshes refreshMarginSeconds before expiry, then again for the new token', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] });
    const service = new FakeAuthService();
    const client = await signedIn(service, { refreshMarginSeconds: 30 });
    const { tokens } = record(client);
    const first = client.accessToken;

    await jest.advanceTimersByTimeAsync(869_000);
    expect(service.refreshes).toBe(0);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(service.refreshes).toBe(1);
    expect(client.accessToken).not.toBe(first);
    expect(tokens.map((event) => event.source)).toEqual(['refresh']);
    expect(client.accessTokenExpiresAt).toBe(Date.now() + 900_000);

    await jest.advanceTimersByTimeAsync(870_000);
    expect(service.refreshes).toBe(2);
  });

  it('refreshes a short token halfway (the margin is at most half its lifetime)', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] });
    const service = new FakeAuthService();
    service.expiresIn = 10;
    await signedIn(service);
    await jest.advanceTimersByTimeAsync(4_999);
    expect(service.refreshes).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(service.refreshes).toBe(1);
  });

  it('stops at logout, and never runs with proactiveRefresh: false', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] });
    const service = new FakeAuthService();
    const client = await signedIn(service);
    await client.logout();
    const quiet = await signedIn(service, { proactiveRefresh: false });
    await jest.advanceTimersByTimeAsync(3_600_000);
    expect(service.refreshes).toBe(0);
    expect(quiet.accessToken).not.toBeNull();
  });

  it('stops when the refresh is refused', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] });
    const service = new FakeAuthService();
    const client = await signedIn(service);
    const { loggedOut } = record(client);
    service.session = null;
    await jest.advanceTimersByTimeAsync(870_000);
    expect(service.refreshes).toBe(1);
    expect(loggedOut).toEqual([{ type: 'loggedout', reason: 'refresh-refused' }]);
    await jest.advanceTimersByTimeAsync(3_600_000);
    expect(service.refreshes).toBe(1);
  });
});

describe('errors as values', () => {
  const answering = (response: () => Response) =>
    createAuthClient({
      baseUrl: 'https://api.example.test',
      fetch: (async () => response()) as typeof fetch,
      crossTab: false,
    });

  it('carry status, code, message and Retry-After', async () => {
    const client = answering(() =>
      json(409, errorBody(409, 'Conflict', 'Session limit reached', 'SESSION_LIMIT_REACHED')),
    );
    const error = (await client
      .login({ email: 'a@example.com', password: 'x' })
      .catch((caught: unknown) => caught)) as FingerprintAuthError;
    expect(error).toBeInstanceOf(FingerprintAuthError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('FingerprintAuthError');
    expect(error.status).toBe(409);
    expect(error.code).toBe('SESSION_LIMIT_REACHED');
    expect(error.message).toBe('Session limit reached');
    expect(error.retryAfter).toBeUndefined();
    expect(error.body).toEqual(
      errorBody(409, 'Conflict', 'Session limit reached', 'SESSION_LIMIT_REACHED'),
    );
  });

  it('list every message of an invalid body', async () => {
    const client = answering(() =>
      json(400, {
        statusCode: 400,
        error: 'Bad Request',
        message: ['email must be an email address', 'password is required'],
      }),
    );
    const error = (await client
      .register({ email: 'nope', password: '' })
      .catch((caught: unknown) => caught)) as FingerprintAuthError;
    expect(error.code).toBeUndefined();
    expect(error.messages).toEqual(['email must be an email address', 'password is required']);
    expect(error.message).toBe('email must be an email address; password is required');
  });

  it('say what they can of an answer that is not the service’s (a proxy page)', async () => {
    const client = answering(
      () => new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    );
    await expect(client.login({ email: 'a@example.com', password: 'x' })).rejects.toMatchObject({
      status: 502,
      code: undefined,
      message: 'Bad Gateway',
      body: undefined,
    });
  });

  it('read Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('leave the user signed in on a wrong current password', async () => {
    const service = new FakeAuthService();
    const client = await signedIn(service);
    const { loggedOut } = record(client);
    await expect(
      client.changePassword({ currentPassword: 'wrong', newPassword: 'another long one' }),
    ).rejects.toMatchObject({ status: 403, code: 'CURRENT_PASSWORD_INCORRECT' });
    expect(loggedOut).toEqual([]);
    await expect(
      client.changePassword({ currentPassword: PASSWORD, newPassword: 'another long one' }),
    ).resolves.toEqual({ revoked: 1 });
  });
});

describe('sessions and the end of one', () => {
  it('lists, revokes another, ends the others, reads alerts', async () => {
    const service = new FakeAuthService();
    service.otherSessions = ['phone', 'tablet'];
    const client = await signedIn(service);
    expect((await client.sessions.list()).map((entry) => entry.id)).toEqual([
      client.sessionId,
      'phone',
      'tablet',
    ]);
    await client.sessions.revoke('phone');
    await expect(client.sessions.revoke('phone')).rejects.toMatchObject({ status: 404 });
    expect(await client.sessions.logoutAll()).toEqual({ revoked: 1 });
    expect(await client.sessions.alerts()).toEqual([]);
    expect(client.accessToken).not.toBeNull();
  });

  it('ends this browser’s session by revoking the current one, logout or account deletion', async () => {
    const service = new FakeAuthService();
    const reasons: string[] = [];
    for (const end of [
      (client: AuthClient) => client.sessions.revoke(client.sessionId as string),
      (client: AuthClient) => client.logout(),
      (client: AuthClient) => client.deleteAccount({ password: PASSWORD }),
    ]) {
      const client = await signedIn(service);
      client.addEventListener('loggedout', (event) => reasons.push(event.reason));
      await end(client);
      expect(client.accessToken).toBeNull();
      expect(service.session).toBeNull();
    }
    expect(reasons).toEqual(['session-revoked', 'logout', 'account-deleted']);
    expect(JSON.parse(service.callsTo('/account')[0].body ?? '')).toEqual({ password: PASSWORD });
  });

  it('logs out locally even when there was no session left', async () => {
    const service = new FakeAuthService();
    const client = await signedIn(service);
    service.session = null;
    await expect(client.logout()).resolves.toBeUndefined();
    expect(client.accessToken).toBeNull();
  });

  it('stops calling a listener once it is removed', async () => {
    const service = new FakeAuthService();
    const client = clientOf(service);
    const listener = jest.fn();
    const stop = client.addEventListener('token', listener);
    await client.login({ email: 'alice@example.com', password: PASSWORD });
    stop();
    await client.refresh();
    expect(listener).toHaveBeenCalledTimes(1);
  });
});

describe('across tabs (Web Locks and BroadcastChannel)', () => {
  let channelNames = 0;
  /** Tabs of one browser: one cookie jar (the service's), one lock manager, one channel name. */
  function browser(service: FakeAuthService) {
    const locks = new InProcessLockManager();
    // Each test its own origin, so channels of earlier tests never hear this one.
    const base = `${service.base}`;
    channelNames += 1;
    const suffix = channelNames;
    const tab = (options: Partial<AuthClientOptions> = {}) =>
      clientOf(service, {
        baseUrl: base,
        crossTab: {
          locks,
          channel: (name) => new BroadcastChannel(`${name}#${suffix}`),
        },
        ...options,
      });
    return { locks, tab };
  }

  const until = async (condition: () => boolean) => {
    for (let i = 0; i < 200 && !condition(); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(condition()).toBe(true);
  };

  it('hands a login’s token to the other tabs', async () => {
    const service = new FakeAuthService();
    const { tab } = browser(service);
    const a = tab();
    const b = tab();
    const { tokens } = record(b);
    await a.login({ email: 'alice@example.com', password: PASSWORD });
    await until(() => b.accessToken !== null);
    expect(b.accessToken).toBe(a.accessToken);
    expect(tokens.map((event) => event.source)).toEqual(['other-tab']);
  });

  it('rotates once for concurrent 401s in two tabs; the waiting tab takes the broadcast token', async () => {
    const service = new FakeAuthService();
    service.routes.set('GET /notes', () => json(200, {}));
    service.refreshDelayMs = 20;
    const { locks, tab } = browser(service);
    const a = tab();
    const b = tab();
    await a.login({ email: 'alice@example.com', password: PASSWORD });
    await until(() => b.accessToken === a.accessToken);
    service.expireTokens();
    service.calls.length = 0;
    const grantedBefore = locks.granted;

    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => a.fetch('/notes')),
      ...Array.from({ length: 5 }, () => b.fetch('/notes')),
    ]);

    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(service.refreshes).toBe(1);
    expect(locks.granted - grantedBefore).toBe(2);
    expect(locks.waited).toBeGreaterThanOrEqual(1);
    expect(a.accessToken).toBe(b.accessToken);
    expect(service.revokedForReuse).toBe(false);
  });

  it('waits for the holder’s token even when the message lands after the lock', async () => {
    const service = new FakeAuthService();
    service.routes.set('GET /notes', () => json(200, {}));
    const { tab } = browser(service);
    // Every message reaches the other tabs 100 ms after it was posted.
    const slowChannel = (name: string) => {
      const inner = new BroadcastChannel(name);
      let open = true;
      return {
        postMessage: (message: unknown) =>
          setTimeout(() => open && inner.postMessage(message), 100),
        addEventListener: (type: 'message', listener: (event: object) => void) =>
          inner.addEventListener(type, listener),
        close: () => {
          open = false;
          inner.close();
        },
      };
    };
    const locks = new InProcessLockManager();
    const slow = (suffix: string) =>
      tab({ crossTab: { locks, channel: (name) => slowChannel(`${name}#slow${suffix}`) } });
    const suffix = String(Math.random());
    const a = slow(suffix);
    const b = slow(suffix);
    await a.login({ email: 'alice@example.com', password: PASSWORD });
    await until(() => b.accessToken === a.accessToken);
    service.expireTokens();
    service.calls.length = 0;

    const answers = await Promise.all([
      ...Array.from({ length: 3 }, () => a.fetch('/notes')),
      ...Array.from({ length: 3 }, () => b.fetch('/notes')),
    ]);

    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(200));
    expect(service.refreshes).toBe(1);
    expect(b.accessToken).toBe(a.accessToken);
  });

  it('rotates itself after a holder that left without a word (a tab closed mid-refresh)', async () => {
    const service = new FakeAuthService();
    service.routes.set('GET /notes', () => json(200, {}));
    const { locks, tab } = browser(service);
    const a = tab();
    await a.login({ email: 'alice@example.com', password: PASSWORD });
    service.expireTokens();
    let leave!: () => void;
    const held = locks.request(
      'fingerprint-auth-refresh:https://api.example.test',
      {},
      () => new Promise<void>((resolve) => (leave = resolve)),
    );
    const answer = a.fetch('/notes');
    await until(() => locks.waited > 0);
    leave();
    await held;
    expect((await answer).status).toBe(200);
    expect(service.refreshes).toBe(1);
  });

  it('tries itself after the holder’s refresh failed without ending the session', async () => {
    const service = new FakeAuthService();
    service.refreshDelayMs = 20;
    const { tab } = browser(service);
    const a = tab();
    const b = tab();
    await a.login({ email: 'alice@example.com', password: PASSWORD });
    await until(() => b.accessToken === a.accessToken);
    service.refreshAnswer = () =>
      json(503, errorBody(503, 'Service Unavailable', 'down', 'STORE_UNAVAILABLE'), {
        'retry-after': '1',
      });
    const outcomes = await Promise.allSettled([a.refresh(), b.refresh()]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(service.refreshes).toBe(2);
    expect(b.accessToken).not.toBeNull();
  });

  it('retries a GET once more, never a POST, when another tab rotated while the retry was out', async () => {
    for (const method of ['GET', 'POST']) {
      const service = new FakeAuthService();
      service.routes.set(`${method} /notes`, () => json(200, {}));
      const { tab } = browser(service);
      const a = tab();
      const b = tab();
      await a.login({ email: 'alice@example.com', password: PASSWORD });
      await until(() => b.accessToken === a.accessToken);
      service.expireTokens();
      // Once A has its new token, its retry is held on the wire while B rotates again.
      let open!: () => void;
      const stop = a.addEventListener('token', (event) => {
        if (event.source !== 'refresh') return;
        stop();
        service.gates.set('/notes', new Promise<void>((resolve) => (open = resolve)));
      });
      const answer = a.fetch('/notes', { method });
      await until(() => service.gates.has('/notes') && a.accessToken === b.accessToken);
      await b.refresh();
      await until(() => a.accessToken === b.accessToken);
      service.gates.delete('/notes');
      open();

      expect({ method, status: (await answer).status }).toEqual({
        method,
        status: method === 'GET' ? 200 : 401,
      });
      expect(service.refreshes).toBe(2);
      expect(service.callsTo('/notes')).toHaveLength(method === 'GET' ? 3 : 2);
    }
  });

  it('tells the other tabs when one logs out, or has its refresh refused', async () => {
    const service = new FakeAuthService();
    const { tab } = browser(service);
    const a = tab();
    const b = tab();
    const c = tab();
    const { loggedOut } = record(b);
    await a.login({ email: 'alice@example.com', password: PASSWORD });
    await until(() => b.accessToken !== null && c.accessToken !== null);

    await a.logout();
    await until(() => b.accessToken === null);
    expect(loggedOut).toEqual([{ type: 'loggedout', reason: 'other-tab' }]);

    await a.login({ email: 'alice@example.com', password: PASSWORD });
    await until(() => c.accessToken === a.accessToken);
    service.session = null;
    await expect(a.refresh()).rejects.toMatchObject({ status: 401 });
    await until(() => c.accessToken === null);
  });

  it('ignores messages that are not its own on the channel', async () => {
    const service = new FakeAuthService();
    const { tab } = browser(service);
    const a = tab({
      crossTab: {
        locks: new InProcessLockManager(),
        channel: (name) => new BroadcastChannel(`${name}#stranger`),
      },
    });
    await a.login({ email: 'alice@example.com', password: PASSWORD });
    const stranger = new BroadcastChannel('fingerprint-auth:https://api.example.test#stranger');
    stranger.postMessage({ kind: 'fingerprint-auth', type: 'token', token: { accessToken: 1 } });
    stranger.postMessage('loggedout');
    stranger.postMessage({ type: 'loggedout' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    stranger.close();
    expect(a.accessToken).toMatch(/^token-/);
  });

  it('without the lock (crossTab: false), two racing tabs both refresh and the grace rule keeps both', async () => {
    const service = new FakeAuthService();
    service.refreshDelayMs = 20;
    const a = await signedIn(service);
    const b = clientOf(service);
    await Promise.all([a.refresh(), b.refresh()]);
    expect(service.refreshes).toBe(2);
    expect(service.revokedForReuse).toBe(false);
    expect((await a.me()).sessionId).toBe(service.session?.id);
    expect((await b.me()).sessionId).toBe(service.session?.id);
  });
});
