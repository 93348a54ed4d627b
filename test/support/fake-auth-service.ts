import type { TokenResponse } from '../../src/http/contract';

/**
 * The service's routes as the browser client sees them, for the client's unit specs: a `fetch`
 * that answers in the service's shapes and keeps one browser's cookie jar (the fingerprint and the
 * refresh credential, shared by every "tab" that uses this fetch). Rotation and the grace rule
 * follow docs/sessions.md: a refresh rotates both cookies and kills every older token; the
 * previous credential within `graceMs` gets a token for the current fingerprint and no cookies;
 * later, or anything older, is a 401 (a reuse after the grace period revokes the session).
 * Requests read the jar when they are sent and write it when they are answered, as a browser does.
 * The e2e suite (test/client) runs the same client against the real service.
 */
export interface FakeCall {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | null;
  readonly credentials: RequestInit['credentials'];
  readonly contentType: string | null;
  readonly body: string | null;
}

type Handler = (request: { body: string | null }) => Response | Promise<Response>;

interface Session {
  readonly id: string;
  fingerprint: string;
  refresh: string;
  previousRefresh: string | null;
  rotatedAt: number;
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

export const errorBody = (statusCode: number, error: string, message: string, code?: string) => ({
  statusCode,
  error,
  message,
  ...(code ? { code } : {}),
});

const unauthorized = () =>
  json(401, errorBody(401, 'Unauthorized', 'Invalid or missing credentials'));

export class FakeAuthService {
  readonly base = 'https://api.example.test';
  readonly calls: FakeCall[] = [];
  /** The browser's cookie jar: what every request of every tab sends. */
  readonly jar: { fingerprint: string | null; refresh: string | null } = {
    fingerprint: null,
    refresh: null,
  };
  /** Routes of "your app", guarded like the service's own: `'GET /notes'`. */
  readonly routes = new Map<string, Handler>();
  expiresIn = 900;
  graceMs = 10_000;
  /** How long `POST /auth/refresh` takes to answer (ms, real timers). */
  refreshDelayMs = 0;
  /** When set, `POST /auth/refresh` answers this instead. */
  refreshAnswer: (() => Response) | null = null;
  /** When set, every guarded route answers this instead (after the token checks). */
  guardedAnswer: (() => Response) | null = null;
  password = 'correct horse battery staple';
  otherSessions: string[] = ['other-session'];
  /** A request to one of these paths is held (after it was sent) until its promise settles. */
  readonly gates = new Map<string, Promise<void>>();
  session: Session | null = null;
  revokedForReuse = false;

  #counter = 0;
  /** token -> the fingerprint it is bound to; tokens marked expired fail. */
  readonly #tokens = new Map<string, { fingerprint: string; expired: boolean }>();

  readonly fetch = async (input: string | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    if (url.origin !== this.base) throw new TypeError(`fetch to an unexpected origin: ${url.href}`);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    const body = typeof init.body === 'string' ? init.body : null;
    this.calls.push({
      method,
      path: url.pathname,
      authorization: headers.get('authorization'),
      credentials: init.credentials,
      contentType: headers.get('content-type'),
      body,
    });
    // The cookies go out with the request (only with credentials: 'include' cross-origin).
    const sent =
      init.credentials === 'include' ? { ...this.jar } : { fingerprint: null, refresh: null };
    const route = `${method} ${url.pathname}`;
    // Answered later than sent: every request started in one tick is on the wire together.
    await Promise.resolve();
    await this.gates.get(url.pathname);
    switch (route) {
      case 'POST /auth/register':
        return json(201, {
          id: 'user-1',
          email: (JSON.parse(body ?? '{}') as { email: string }).email,
          displayName: null,
          createdAt: new Date(0).toISOString(),
        });
      case 'POST /auth/login':
        return this.#login(body);
      case 'POST /auth/refresh':
        if (this.refreshDelayMs > 0) {
          await new Promise((resolve) => setTimeout(resolve, this.refreshDelayMs));
        }
        return this.#refresh(sent.refresh);
    }
    if (!this.#authorized(headers.get('authorization'), sent.fingerprint)) return unauthorized();
    if (this.guardedAnswer) return this.guardedAnswer();
    const session = this.session as Session;
    switch (route) {
      case 'POST /auth/logout':
        this.#end();
        return new Response(null, { status: 204 });
      case 'GET /auth/me':
        return json(200, {
          id: 'user-1',
          email: 'alice@example.com',
          displayName: null,
          sessionId: session.id,
        });
      case 'POST /auth/password': {
        const { currentPassword } = JSON.parse(body ?? '{}') as { currentPassword: string };
        if (currentPassword !== this.password) {
          return json(
            403,
            errorBody(
              403,
              'Forbidden',
              'The current password is incorrect',
              'CURRENT_PASSWORD_INCORRECT',
            ),
          );
        }
        const revoked = this.otherSessions.length;
        this.otherSessions = [];
        return json(200, { revoked });
      }
      case 'DELETE /account':
        this.#end();
        return new Response(null, { status: 204 });
      case 'GET /sessions':
        return json(200, {
          sessions: [session.id, ...this.otherSessions].map((id) => ({
            id,
            current: id === session.id,
            device: { browser: null, os: null, type: 'unknown' },
            location: null,
            userAgent: '',
            ipAddress: '127.0.0.1',
            createdAt: new Date(0).toISOString(),
            lastActivity: new Date(0).toISOString(),
            expiresAt: new Date(0).toISOString(),
          })),
        });
      case 'POST /sessions/logout-all': {
        const revoked = this.otherSessions.length;
        this.otherSessions = [];
        return json(200, { revoked });
      }
      case 'GET /sessions/alerts':
        return json(200, { alerts: [] });
    }
    if (method === 'DELETE' && url.pathname.startsWith('/sessions/')) {
      const id = decodeURIComponent(url.pathname.slice('/sessions/'.length));
      if (id === session.id) {
        this.#end();
        return new Response(null, { status: 204 });
      }
      if (!this.otherSessions.includes(id)) {
        return json(404, errorBody(404, 'Not Found', 'Session not found'));
      }
      this.otherSessions = this.otherSessions.filter((other) => other !== id);
      return new Response(null, { status: 204 });
    }
    const handler = this.routes.get(route);
    if (handler) return handler({ body });
    return json(404, errorBody(404, 'Not Found', `Cannot ${route}`));
  };

  /** Every token issued so far stops working, as at expiry; the cookies stay. */
  expireTokens(): void {
    for (const token of this.#tokens.values()) token.expired = true;
  }

  /** The `POST /auth/refresh` calls made so far. */
  get refreshes(): number {
    return this.calls.filter((call) => call.path === '/auth/refresh').length;
  }

  callsTo(path: string): FakeCall[] {
    return this.calls.filter((call) => call.path === path);
  }

  #next(prefix: string): string {
    this.#counter += 1;
    return `${prefix}-${this.#counter}`;
  }

  #issue(session: Session): TokenResponse {
    const accessToken = this.#next('token');
    this.#tokens.set(accessToken, { fingerprint: session.fingerprint, expired: false });
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresIn: this.expiresIn,
      sessionId: session.id,
      sessionExpiresAt: new Date(Date.now() + 1_800_000).toISOString(),
    };
  }

  #login(body: string | null): Response {
    const { password } = JSON.parse(body ?? '{}') as { password?: string };
    if (password !== this.password) {
      return json(401, errorBody(401, 'Unauthorized', 'Invalid email or password'));
    }
    const session: Session = {
      id: this.#next('session'),
      fingerprint: this.#next('fgp'),
      refresh: this.#next('refresh'),
      previousRefresh: null,
      rotatedAt: Date.now(),
    };
    this.session = session;
    this.jar.fingerprint = session.fingerprint;
    this.jar.refresh = session.refresh;
    return json(200, this.#issue(session));
  }

  #refresh(presented: string | null): Response {
    if (this.refreshAnswer) return this.refreshAnswer();
    const session = this.session;
    if (session === null || presented === null) return unauthorized();
    if (presented === session.refresh) {
      session.previousRefresh = session.refresh;
      session.fingerprint = this.#next('fgp');
      session.refresh = this.#next('refresh');
      session.rotatedAt = Date.now();
      this.jar.fingerprint = session.fingerprint;
      this.jar.refresh = session.refresh;
      return json(200, this.#issue(session));
    }
    if (presented === session.previousRefresh) {
      // The grace rule: a token for the current fingerprint, no cookies.
      if (Date.now() - session.rotatedAt <= this.graceMs) return json(200, this.#issue(session));
      this.revokedForReuse = true;
      this.#end();
    }
    return unauthorized();
  }

  #authorized(header: string | null, fingerprint: string | null): boolean {
    const token = header?.startsWith('Bearer ') ? this.#tokens.get(header.slice(7)) : undefined;
    return (
      token !== undefined &&
      !token.expired &&
      this.session !== null &&
      token.fingerprint === this.session.fingerprint &&
      fingerprint === this.session.fingerprint
    );
  }

  #end(): void {
    this.session = null;
    this.jar.fingerprint = null;
    this.jar.refresh = null;
  }
}
