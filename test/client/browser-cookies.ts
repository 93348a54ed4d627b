/**
 * One browser's cookie jar for Node's fetch, for driving the client as a page on another origin
 * would: cookies go out and are kept only with `credentials: 'include'` (what the client must
 * always send), `Path` and `Max-Age`/`Expires` are honoured, and nothing but `Set-Cookie` writes
 * the jar (script cannot write HttpOnly cookies, and the client never tries). Several clients
 * (tabs) may share one jar. Test code only: the client itself takes any `fetch`.
 */
interface StoredCookie {
  readonly value: string;
  readonly path: string;
  /** ms since the epoch; Infinity for a session cookie. */
  readonly expires: number;
}

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly sentCookies: readonly string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class BrowserCookies {
  readonly log: LoggedRequest[] = [];
  /** Extra time a request to this path spends on the wire after it was sent (ms). */
  readonly latency = new Map<string, number>();
  readonly #cookies = new Map<string, StoredCookie>();

  readonly fetch = async (input: string | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const include = init.credentials === 'include';
    const headers = new Headers(init.headers);
    const sent = include ? this.#matching(url.pathname) : [];
    if (sent.length > 0) headers.set('cookie', sent.join('; '));
    const delay = this.latency.get(url.pathname);
    if (delay !== undefined) await sleep(delay);
    const response = await fetch(url, { ...init, headers });
    if (include) for (const header of response.headers.getSetCookie()) this.#store(header);
    this.log.push({
      method: (init.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      status: response.status,
      sentCookies: sent.map((cookie) => cookie.split('=')[0]),
    });
    return response;
  };

  /** The names of the cookies held now (expired ones dropped). */
  names(): string[] {
    this.#dropExpired();
    return [...this.#cookies.keys()].sort();
  }

  requests(path: string): LoggedRequest[] {
    return this.log.filter((request) => request.path === path);
  }

  #matching(pathname: string): string[] {
    this.#dropExpired();
    return [...this.#cookies.entries()]
      .filter(([, cookie]) => {
        const prefix = cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`;
        return pathname === cookie.path || pathname.startsWith(prefix);
      })
      .map(([name, cookie]) => `${name}=${cookie.value}`);
  }

  #store(header: string): void {
    const [pair, ...attributes] = header.split(';').map((part) => part.trim());
    const separator = pair.indexOf('=');
    const name = pair.slice(0, separator);
    const value = pair.slice(separator + 1);
    let path = '/';
    let expires = Infinity;
    let maxAge: number | undefined;
    for (const attribute of attributes) {
      const [key, raw = ''] = attribute.split('=');
      const lower = key.toLowerCase();
      if (lower === 'path') path = raw;
      else if (lower === 'max-age') maxAge = Number(raw);
      else if (lower === 'expires') expires = Date.parse(raw);
    }
    if (maxAge !== undefined) expires = Date.now() + maxAge * 1000;
    if (expires <= Date.now()) this.#cookies.delete(name);
    else this.#cookies.set(name, { value, path, expires });
  }

  #dropExpired(): void {
    for (const [name, cookie] of this.#cookies) {
      if (cookie.expires <= Date.now()) this.#cookies.delete(name);
    }
  }
}
