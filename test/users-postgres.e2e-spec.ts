import { startApp, TestApp } from './support/app';
import { TestClient } from './support/client';
import { databaseUrl, serverAddress, ThrowawayDatabases } from './support/postgres';
import { describeWithPostgres } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase';
const uniqueEmail = () => `pg-${Math.random().toString(36).slice(2)}@example.com`;

describeWithPostgres('users on PostgreSQL (e2e)', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl, 'fpa_e2e');
  let url: string;
  let first: TestApp;

  beforeAll(async () => {
    ({ url } = await databases.create());
    first = await startApp({ DATABASE_URL: url });
  });

  afterAll(async () => {
    await first?.close();
    await databases.dropAll();
  });

  it('registers, logs in, answers /auth/me and changes the password', async () => {
    const email = uniqueEmail();
    const client = new TestClient(first);
    const registered = await client.register(email, PASSWORD, 'Zoë 李 🙂');
    expect(registered.statusCode).toBe(201);
    const user = registered.json();
    expect(user).toEqual({
      id: expect.any(String),
      email,
      displayName: 'Zoë 李 🙂',
      createdAt: expect.any(String),
    });
    expect(new Date(user.createdAt).toISOString()).toBe(user.createdAt);
    expect((await client.register(email.toUpperCase(), PASSWORD)).statusCode).toBe(409);

    const login = await client.login(email, PASSWORD);
    expect(login).toMatchObject({ tokenType: 'Bearer', sessionId: expect.any(String) });
    const phone = new TestClient(first);
    await phone.login(email, PASSWORD);
    const me = await client.get('/auth/me');
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({
      id: user.id,
      email,
      displayName: 'Zoë 李 🙂',
      sessionId: login.sessionId,
    });

    const changed = await client.post('/auth/password', {
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toEqual({ revoked: 1 });
    expect((await client.get('/auth/me')).statusCode).toBe(200);
    expect((await phone.get('/auth/me')).statusCode).toBe(401);

    const old = await first.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(old.statusCode).toBe(401);
    expect(old.json()).toMatchObject({ message: 'Invalid email or password' });
    const fresh = new TestClient(first);
    await fresh.login(email, NEW_PASSWORD);
    expect((await fresh.get('/auth/me')).json()).toMatchObject({ id: user.id, email });
  });

  it('keeps users across a restart', async () => {
    const email = uniqueEmail();
    expect((await new TestClient(first).register(email, PASSWORD)).statusCode).toBe(201);
    await first.close();
    first = await startApp({ DATABASE_URL: url });
    const client = new TestClient(first);
    await client.login(email, PASSWORD);
    expect((await client.get('/auth/me')).json()).toMatchObject({ email });
  });

  it('refuses a display name PostgreSQL cannot store with 400, and stores nothing', async () => {
    const email = uniqueEmail();
    const response = await first.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: PASSWORD, displayName: 'bad\u0000name' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    const login = await first.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(login.statusCode).toBe(401);
    // The email is still free.
    expect((await new TestClient(first).register(email, PASSWORD)).statusCode).toBe(201);
  });

  it('answers a login with an email that is no email at all as any unknown email: 401', async () => {
    const response = await first.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: '%', password: PASSWORD },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ message: 'Invalid email or password' });
  });

  it('refuses a login with an email holding a NUL character before any query: 400 naming it', async () => {
    const response = await first.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'nul\u0000@example.com', password: PASSWORD },
    });
    // No account can have such an email (the rules refuse it), so saying so reveals nothing.
    expect(response.statusCode).toBe(400);
    expect(JSON.stringify(response.json().message)).toContain('U+0000');
  });

  it('reports the database as ready', async () => {
    const response = await first.inject({ method: 'GET', url: '/health/ready' });
    expect(response.statusCode).toBe(200);
    expect(response.json().details.userDatabase).toEqual({ status: 'up' });
  });

  describe('when the database stops answering', () => {
    let proxy: TcpProxy;
    let target: TestApp;
    let proxyUrl: string;

    beforeAll(async () => {
      proxy = await TcpProxy.start(serverAddress(serverUrl));
      proxyUrl = databaseUrl(url, new URL(url).pathname.slice(1), {
        host: '127.0.0.1',
        port: proxy.port,
      });
      target = await startApp({ DATABASE_URL: proxyUrl });
    });

    afterAll(async () => {
      await proxy?.close();
      await target?.close();
    });

    it('answers 503 with Retry-After, loses nothing, and works again once it is back', async () => {
      const email = uniqueEmail();
      const before = new TestClient(target);
      expect((await before.register(email, PASSWORD)).statusCode).toBe(201);

      await proxy.cut();
      const laterEmail = uniqueEmail();
      const attempts = [
        await target.inject({
          method: 'POST',
          url: '/auth/register',
          payload: { email: laterEmail, password: PASSWORD },
        }),
        await target.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email, password: PASSWORD },
        }),
      ];
      for (const response of attempts) {
        expect(response.statusCode).toBe(503);
        expect(response.headers['retry-after']).toBe('1');
        expect(response.json()).toEqual({
          statusCode: 503,
          error: 'Service Unavailable',
          message: 'The users store is unavailable',
          code: 'STORE_UNAVAILABLE',
        });
        expect(response.body).not.toContain(String(proxy.port));
        expect(response.body).not.toMatch(/postgres|ECONNREFUSED|at .*\.[jt]s:\d+/i);
      }
      const ready = await target.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().details.userDatabase).toEqual({
        status: 'down',
        message: 'user database did not answer',
      });

      await proxy.restore();
      // The user registered before the outage is still there; the one refused was never stored.
      const client = new TestClient(target);
      await client.login(email, PASSWORD);
      expect((await client.get('/auth/me')).json()).toMatchObject({ email });
      expect((await new TestClient(target).register(laterEmail, PASSWORD)).statusCode).toBe(201);
      expect((await target.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    });
  });

  it('two instances starting at once on a fresh database both come up and share users', async () => {
    const { url: fresh } = await databases.create();
    const [a, b] = await Promise.all([
      startApp({ DATABASE_URL: fresh }),
      startApp({ DATABASE_URL: fresh }),
    ]);
    try {
      // Public routes only: Passport keeps one 'jwt' strategy per process, so of several apps in
      // one process only the last started guards requests correctly (one app per process in
      // production). For the same reason this test runs last.
      const email = uniqueEmail();
      expect((await new TestClient(a).register(email, PASSWORD)).statusCode).toBe(201);
      const taken = await new TestClient(b).register(email.toUpperCase(), PASSWORD);
      expect(taken.statusCode).toBe(409);
      expect(taken.json()).toMatchObject({ statusCode: 409, code: 'EMAIL_TAKEN' });
      const login = await new TestClient(b).login(email, PASSWORD);
      expect(login).toMatchObject({ tokenType: 'Bearer', sessionId: expect.any(String) });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
