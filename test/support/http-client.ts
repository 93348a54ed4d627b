import type { ServiceProcess } from './process';

export const PASSWORD = 'correct horse battery staple';

export interface Answer {
  status: number;
  headers: Headers;
  /** The JSON body; empty for an empty or non-JSON one (see `text`). */
  body: Record<string, unknown>;
  text: string;
}

/**
 * A cookie-keeping HTTP client for the service run as a process (`startService`), which may talk
 * to any instance: with COOKIE_SECURE=false the fingerprint cookie is `fgp` and the refresh cookie
 * `fpa_refresh`, sent like a browser would (every cookie on every request: both paths are the
 * service's own).
 */
export class HttpClient {
  readonly cookies = new Map<string, string>();
  accessToken?: string;
  sessionId?: string;

  async request(
    service: ServiceProcess,
    method: string,
    path: string,
    payload?: unknown,
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.accessToken) headers.authorization = `Bearer ${this.accessToken}`;
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      if (value === '' || /max-age=0/i.test(cookie)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    const json = /^application\/json/.test(response.headers.get('content-type') ?? '');
    return {
      status: response.status,
      headers: response.headers,
      body: json && text ? (JSON.parse(text) as Answer['body']) : {},
      text,
    };
  }

  register(service: ServiceProcess, email: string, password = PASSWORD): Promise<Answer> {
    return this.request(service, 'POST', '/auth/register', { email, password });
  }

  login(service: ServiceProcess, email: string, password = PASSWORD): Promise<Answer> {
    return this.keep(this.request(service, 'POST', '/auth/login', { email, password }));
  }

  refresh(service: ServiceProcess): Promise<Answer> {
    return this.keep(this.request(service, 'POST', '/auth/refresh'));
  }

  /** Another client holding what this one holds now: its token and cookies (a copied browser). */
  copy(): HttpClient {
    const copy = new HttpClient();
    copy.accessToken = this.accessToken;
    copy.sessionId = this.sessionId;
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    return copy;
  }

  private async keep(pending: Promise<Answer>): Promise<Answer> {
    const answer = await pending;
    if (answer.status === 200) {
      this.accessToken = answer.body.accessToken as string;
      this.sessionId = answer.body.sessionId as string;
    }
    return answer;
  }
}

/** Registers `email` on `service` and returns a client logged in as it there. */
export async function signedInHttpClient(
  service: ServiceProcess,
  email: string,
): Promise<HttpClient> {
  const client = new HttpClient();
  const registered = await client.register(service, email);
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
  return loggedInHttpClient(service, email);
}

/** A new client logged in as `email` on `service`; throws unless the login answers 200. */
export async function loggedInHttpClient(
  service: ServiceProcess,
  email: string,
): Promise<HttpClient> {
  const client = new HttpClient();
  const login = await client.login(service, email);
  if (login.status !== 200) throw new Error(`login answered ${login.status}`);
  return client;
}
