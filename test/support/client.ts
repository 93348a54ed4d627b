import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app';

export interface LoginBody {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  sessionId: string;
  sessionExpiresAt: string;
}

/**
 * A browser-like client: keeps the cookies the service sets (respecting Path and Max-Age=0)
 * and the last access token, and sends both the way a browser plus an SPA would.
 */
export class TestClient {
  readonly cookies = new Map<string, { value: string; path: string }>();
  accessToken?: string;
  sessionId?: string;

  constructor(
    private readonly target: TestApp,
    readonly headers: Record<string, string> = {},
  ) {}

  async request(options: InjectOptions & { auth?: boolean }): Promise<LightMyRequestResponse> {
    const { auth = true, ...rest } = options;
    const url = String(rest.url ?? '/');
    const cookieHeader = [...this.cookies.entries()]
      .filter(([, cookie]) => url.startsWith(cookie.path))
      .map(([name, cookie]) => `${name}=${cookie.value}`)
      .join('; ');
    const response = await this.target.inject({
      ...rest,
      headers: {
        ...this.headers,
        ...(cookieHeader ? { cookie: cookieHeader } : {}),
        ...(auth && this.accessToken ? { authorization: `Bearer ${this.accessToken}` } : {}),
        ...(rest.headers as Record<string, string> | undefined),
      },
    });
    for (const cookie of response.cookies as Array<{
      name: string;
      value: string;
      path?: string;
      maxAge?: number;
    }>) {
      if (cookie.maxAge === 0 || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, { value: cookie.value, path: cookie.path ?? '/' });
    }
    return response;
  }

  get(url: string, headers: Record<string, string> = {}) {
    return this.request({ method: 'GET', url, headers });
  }

  post(url: string, payload?: unknown, headers: Record<string, string> = {}) {
    return this.request({
      method: 'POST',
      url,
      payload: payload as InjectOptions['payload'],
      headers,
    });
  }

  delete(url: string) {
    return this.request({ method: 'DELETE', url });
  }

  async register(email: string, password: string, displayName?: string) {
    return this.post('/auth/register', {
      email,
      password,
      ...(displayName ? { displayName } : {}),
    });
  }

  /** Logs in and keeps the token; throws unless the service answers 200. */
  async login(email: string, password: string): Promise<LoginBody> {
    const response = await this.post('/auth/login', { email, password });
    if (response.statusCode !== 200)
      throw new Error(`login failed: ${response.statusCode} ${response.body}`);
    return this.keep(response.json<LoginBody>());
  }

  /** Refreshes and keeps the new token; returns the raw response. */
  async refresh(): Promise<LightMyRequestResponse> {
    const response = await this.request({ method: 'POST', url: '/auth/refresh', auth: false });
    if (response.statusCode === 200) this.keep(response.json<LoginBody>());
    return response;
  }

  private keep(body: LoginBody): LoginBody {
    this.accessToken = body.accessToken;
    this.sessionId = body.sessionId;
    return body;
  }
}

/** Registers a user and returns a logged-in client for it. */
export async function signedInClient(
  target: TestApp,
  email = `user-${Math.random().toString(36).slice(2)}@example.com`,
  password = 'correct horse battery staple',
  headers: Record<string, string> = {},
): Promise<TestClient> {
  const client = new TestClient(target, headers);
  const registered = await client.register(email, password);
  if (registered.statusCode !== 201 && registered.statusCode !== 409) {
    throw new Error(`register failed: ${registered.statusCode} ${registered.body}`);
  }
  await client.login(email, password);
  return client;
}
