import { startApp, TestApp } from './support/app';
import { signedInClient, TestClient } from './support/client';

describe('auth (e2e)', () => {
  let target: TestApp;

  beforeAll(async () => {
    target = await startApp();
  });

  afterAll(async () => {
    await target.close();
  });

  it('registers, logs in and reads /auth/me with token and cookie', async () => {
    const client = await signedInClient(target, 'Alice@Example.com ');
    const me = await client.get('/auth/me');
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({
      id: expect.any(String),
      email: 'alice@example.com',
      displayName: null,
      sessionId: client.sessionId,
    });
  });

  it('rejects the token without its cookie', async () => {
    const client = await signedInClient(target);
    const thief = new TestClient(target);
    thief.accessToken = client.accessToken;
    const response = await thief.get('/auth/me');
    expect(response.statusCode).toBe(401);
  });
});
