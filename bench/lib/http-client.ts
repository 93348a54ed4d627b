import { USER_AGENT } from './context';

export interface SignedIn {
  readonly userId: string;
  readonly sessionId: string;
  readonly accessToken: string;
  /** Cookie header with the fingerprint cookie (every cookie set for Path=/). */
  readonly cookie: string;
  /** Headers of a guarded request: bearer token, fingerprint cookie, the login's user agent. */
  readonly headers: Record<string, string>;
}

export const PASSWORD = 'correct horse battery staple';

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
    body: JSON.stringify(body),
  });
}

export async function register(baseUrl: string, email: string): Promise<string> {
  const response = await postJson(`${baseUrl}/auth/register`, { email, password: PASSWORD });
  if (response.status !== 201) {
    throw new Error(`register ${email}: ${response.status} ${await response.text()}`);
  }
  return ((await response.json()) as { id: string }).id;
}

/** Logs in over HTTP, as a browser would; throws unless the answer is 200. */
export async function login(
  baseUrl: string,
  email: string,
  headers: Record<string, string> = {},
): Promise<Omit<SignedIn, 'userId'>> {
  const response = await postJson(`${baseUrl}/auth/login`, { email, password: PASSWORD }, headers);
  if (response.status !== 200) {
    throw new Error(`login ${email}: ${response.status} ${await response.text()}`);
  }
  const body = (await response.json()) as { accessToken: string; sessionId: string };
  const cookie = response.headers
    .getSetCookie()
    .filter((line) => /;\s*path=\/(;|$)/i.test(line))
    .map((line) => line.split(';')[0])
    .join('; ');
  return {
    sessionId: body.sessionId,
    accessToken: body.accessToken,
    cookie,
    headers: { authorization: `Bearer ${body.accessToken}`, cookie, 'user-agent': USER_AGENT },
  };
}

export async function signIn(baseUrl: string, email: string): Promise<SignedIn> {
  const userId = await register(baseUrl, email);
  return { userId, ...(await login(baseUrl, email)) };
}

/** GET with the given headers; returns status and body text. */
export async function get(url: string, headers: Record<string, string>) {
  const response = await fetch(url, { headers });
  return { status: response.status, body: await response.text() };
}
