export const PASSWORD = 'correct horse battery staple';

/** A signed-in browser, as the host's routes see it. */
export interface Login {
  readonly accessToken: string;
  readonly sessionId: string;
  /** The raw `Set-Cookie` headers of the login. */
  readonly setCookies: string[];
  /** `authorization` and `cookie` (the fingerprint) headers of a guarded request. */
  readonly credentials: Record<string, string>;
  /** `name=value` of one cookie the login set. */
  cookie(name: string): string;
}

/** `name=value` of the cookie `response` set; throws when it set none. */
export function cookieOf(response: Response, name: string): string {
  const found = response.headers.getSetCookie().find((header) => header.startsWith(`${name}=`));
  if (found === undefined) throw new Error(`the response set no ${name} cookie`);
  return found.split(';')[0];
}

/** Real HTTP (fetch) to an app listening on loopback. */
export class HostClient {
  constructor(readonly url: string) {}

  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, { headers });
  }

  delete(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, { method: 'DELETE', headers });
  }

  post(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /** Logs in at `<prefix>/auth/login`; throws unless it answers 200. */
  async login(prefix: string, email: string, password = PASSWORD): Promise<Login> {
    const response = await this.post(`${prefix}/auth/login`, { email, password });
    if (response.status !== 200) {
      throw new Error(`login answered ${response.status}: ${await response.text()}`);
    }
    const body = (await response.json()) as { accessToken: string; sessionId: string };
    const setCookies = response.headers.getSetCookie();
    const cookie = (name: string): string => cookieOf(response, name);
    return {
      accessToken: body.accessToken,
      sessionId: body.sessionId,
      setCookies,
      credentials: { authorization: `Bearer ${body.accessToken}`, cookie: cookie('fgp') },
      cookie,
    };
  }
}
