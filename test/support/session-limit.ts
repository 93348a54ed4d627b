import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app';
import { TestClient } from './client';

/** A client holding what a login answered: its access token and fingerprint cookie. */
export function clientFromLogin(target: TestApp, response: LightMyRequestResponse): TestClient {
  const client = new TestClient(target);
  client.accessToken = response.json().accessToken;
  const cookie = ([] as string[])
    .concat(response.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith('__Host-Fgp=')) as string;
  client.cookies.set('__Host-Fgp', {
    value: /^__Host-Fgp=([^;]+)/.exec(cookie)?.[1] as string,
    path: '/',
  });
  return client;
}

/**
 * Fires `attempts` logins of one registered account at once and checks the per-user limit held:
 * under `reject` exactly `limit` succeed and the rest get 409 SESSION_LIMIT_REACHED; under
 * `evict-oldest` all succeed; either way exactly `limit` of the admitted sessions are still live
 * (each asked with its own token and cookie).
 */
export async function expectLimitHoldsUnderConcurrentLogins(
  target: TestApp,
  credentials: { email: string; password: string },
  policy: 'evict-oldest' | 'reject',
  limit: number,
  attempts = 20,
): Promise<void> {
  const responses = await Promise.all(
    Array.from({ length: attempts }, () =>
      target.inject({ method: 'POST', url: '/auth/login', payload: credentials }),
    ),
  );
  const statuses = responses.map((response) => response.statusCode);
  if (policy === 'reject') {
    expect(statuses.filter((status) => status === 200)).toHaveLength(limit);
    expect(statuses.filter((status) => status === 409)).toHaveLength(attempts - limit);
    const rejected = responses.find((response) => response.statusCode === 409);
    expect(rejected?.json()).toMatchObject({ statusCode: 409, code: 'SESSION_LIMIT_REACHED' });
  } else {
    expect(statuses).toEqual(Array(attempts).fill(200));
  }
  let live = 0;
  for (const response of responses.filter((r) => r.statusCode === 200)) {
    const me = await clientFromLogin(target, response).get('/auth/me');
    if (me.statusCode === 200) live++;
    else expect(me.statusCode).toBe(401);
  }
  expect(live).toBe(limit);
}
