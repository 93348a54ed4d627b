import type {
  AccountEventListResponse,
  AccountEventsQuery,
  AlertListResponse,
  ChangePasswordRequest,
  DeleteAccountRequest,
  LoginRequest,
  MeResponse,
  RegisterRequest,
  RevokedResponse,
  SessionAlert,
  SessionEntry,
  SessionListResponse,
  TokenResponse,
  UserResponse,
} from '../http/contract.js';
import type {
  BroadcastChannelLike,
  CrossTabMessage,
  CrossTabOptions,
  LockManagerLike,
  SharedToken,
} from './cross-tab.js';
import { browserCrossTab, channelName, readMessage, refreshLockName } from './cross-tab.js';
import { errorFromResponse, FingerprintAuthError } from './errors.js';

/** The access token the client holds, in memory only. `expiresAt` is in ms since the epoch. */
export type AccessToken = SharedToken;

/** Where a new access token came from. */
export type TokenSource = 'login' | 'refresh' | 'other-tab';

/** A new access token arrived (after a login or a refresh, here or in another tab). */
export interface TokenEvent extends AccessToken {
  readonly type: 'token';
  readonly source: TokenSource;
}

/**
 * Why the client no longer holds a session:
 * - `refresh-refused`: `POST /auth/refresh` answered 401 (session ended, revoked elsewhere,
 *   expired, or there never was one in this browser);
 * - `logout`, `session-revoked` (the current session ended with `sessions.revoke`),
 *   `account-deleted`: this client did it;
 * - `other-tab`: another tab of this browser logged out, or had its refresh refused.
 */
export type LoggedOutReason =
  'refresh-refused' | 'logout' | 'session-revoked' | 'account-deleted' | 'other-tab';

export interface LoggedOutEvent {
  readonly type: 'loggedout';
  readonly reason: LoggedOutReason;
}

export interface AuthClientEvents {
  token: TokenEvent;
  loggedout: LoggedOutEvent;
}

export interface AuthClientOptions {
  /**
   * Where the service's routes are, with the module's route prefix if it has one:
   * `https://api.example.com`, `https://example.com/api`. In a browser page it may be relative
   * (`/api`), resolved against the page's address.
   */
  readonly baseUrl: string;
  /** The `fetch` to call (default: the global one). Every call gets `credentials: 'include'`. */
  readonly fetch?: typeof fetch;
  /** Called on every `loggedout` event (same as `addEventListener('loggedout', …)`). */
  readonly onLoggedOut?: (event: LoggedOutEvent) => void;
  /** Called on every `token` event (same as `addEventListener('token', …)`). */
  readonly onToken?: (event: TokenEvent) => void;
  /**
   * Refresh this many seconds before the access token expires (default 30, at most half the
   * token's lifetime, so a 10 s token is refreshed after 5 s).
   */
  readonly refreshMarginSeconds?: number;
  /** Refresh on a timer before the token expires (default true). With false, only a 401 refreshes. */
  readonly proactiveRefresh?: boolean;
  /**
   * Coordination with the other tabs of this browser (Web Locks and BroadcastChannel). Default:
   * on in a browser window that has both, off elsewhere (Node). `false`: this client alone;
   * `true`: use them wherever the globals exist (a worker); or pass them explicitly.
   */
  readonly crossTab?: boolean | CrossTabOptions;
}

/** What `createAuthClient` returns. */
export interface AuthClient {
  /** The current access token, or null. In memory only: never written to storage or cookies. */
  readonly accessToken: string | null;
  /** The session the current token belongs to, or null. */
  readonly sessionId: string | null;
  /** When the current token expires (ms since the epoch), or null. */
  readonly accessTokenExpiresAt: number | null;

  /** `POST /auth/register`. Does not log in. */
  register(body: RegisterRequest): Promise<UserResponse>;
  /** `POST /auth/login`: keeps the token, sets the browser's cookies, tells the other tabs. */
  login(body: LoginRequest): Promise<TokenResponse>;
  /**
   * A fresh access token: call it when a page loads (the token of the previous page is gone on
   * purpose) to find out whether the browser still has a session. Throws a 401
   * `FingerprintAuthError` (and emits `loggedout`) when it has none.
   */
  refresh(): Promise<AccessToken>;
  /** `POST /auth/logout`, then forgets the token (also when the server could not be reached). */
  logout(): Promise<void>;
  /** `GET /auth/me`. */
  me(): Promise<MeResponse>;
  /**
   * `fetch` for the service's routes and your own guarded routes under `baseUrl`: adds
   * `Authorization: Bearer`, always `credentials: 'include'`; on a 401 refreshes (once for all
   * concurrent callers) and retries once (an idempotent request once more if a newer token
   * arrived from another tab meanwhile; a POST never). Resolves with the server's `Response`,
   * whatever its status; rejects on a network failure, or with the refresh's
   * `FingerprintAuthError` when the refresh failed for another reason than an ended session
   * (429, 503).
   */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** `POST /auth/password`: every other session ends; this one stays. */
  changePassword(body: ChangePasswordRequest): Promise<RevokedResponse>;
  /** `DELETE /account` with the current password; then forgets the token. */
  deleteAccount(body: DeleteAccountRequest): Promise<void>;
  /**
   * `GET /account/events`: one page of the account's security events, newest first; pass the
   * page's `nextCursor` as `before` for the next one (null on the last).
   */
  accountEvents(query?: AccountEventsQuery): Promise<AccountEventListResponse>;
  readonly sessions: {
    /** `GET /sessions`: the user's live sessions, most recent activity first. */
    list(): Promise<readonly SessionEntry[]>;
    /** `DELETE /sessions/:id`; ending the current session logs this browser out. */
    revoke(sessionId: string): Promise<void>;
    /** `POST /sessions/logout-all`: every session but this one. */
    logoutAll(): Promise<RevokedResponse>;
    /** `GET /sessions/alerts`. */
    alerts(): Promise<readonly SessionAlert[]>;
  };

  /** Listens for `token` or `loggedout`; returns a function that stops listening. */
  addEventListener<K extends keyof AuthClientEvents>(
    type: K,
    listener: (event: AuthClientEvents[K]) => void,
  ): () => void;
  removeEventListener<K extends keyof AuthClientEvents>(
    type: K,
    listener: (event: AuthClientEvents[K]) => void,
  ): void;
  /** Stops the refresh timer and leaves the tab channel (e.g. when the app unmounts). */
  close(): void;
}

/** Creates a client for the service at `options.baseUrl`. */
export function createAuthClient(options: AuthClientOptions): AuthClient {
  return new FingerprintAuthClient(options);
}

const DEFAULT_REFRESH_MARGIN_SECONDS = 30;
/** A token from another tab with less left than this is not worth adopting instead of refreshing. */
const MIN_USEFUL_TOKEN_MS = 1_000;
const NOT_ACQUIRED = Symbol('not acquired');

type Listener<K extends keyof AuthClientEvents> = (event: AuthClientEvents[K]) => void;

/** `https://api.example.com/prefix` without a trailing slash; relative only where the page gives a base. */
function normaliseBaseUrl(baseUrl: string): string {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = page === undefined ? new URL(baseUrl) : new URL(baseUrl, page);
  } catch {
    throw new TypeError(
      `fingerprint-auth: baseUrl must be an absolute URL (or relative in a page): ${baseUrl}`,
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new TypeError('fingerprint-auth: baseUrl must not have a query or a fragment');
  }
  return url.href.replace(/\/+$/, '');
}

/** A body `fetch` can send a second time (a stream is consumed by the first attempt). */
function isReplayable(body: RequestInit['body']): boolean {
  if (body === undefined || body === null || typeof body === 'string') return true;
  return typeof (body as { getReader?: unknown }).getReader !== 'function';
}

/** Methods that may run more than once with the same effect (RFC 9110, 9.2.2). */
function isIdempotent(method: string | undefined): boolean {
  return ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'].includes((method ?? 'GET').toUpperCase());
}

/** Lets go of an answer that will not be read (Node would otherwise keep its connection). */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

function report(error: unknown): void {
  const reportError = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof reportError === 'function') reportError(error);
  else console.error(error);
}

/**
 * How long a tab that waited for the lock waits for the holder's message once it has the lock.
 * The holder posts before it releases, so this only covers delivery, or a holder that went away
 * (a closed tab releases its lock and posts nothing).
 */
const HOLDER_MESSAGE_WAIT_MS = 1_000;

class FingerprintAuthClient implements AuthClient {
  readonly #base: string;
  readonly #fetch: (input: string, init: RequestInit) => Promise<Response>;
  readonly #marginMs: number;
  readonly #proactive: boolean;
  readonly #crossTab: {
    readonly locks: LockManagerLike;
    readonly lock: string;
    readonly channel: BroadcastChannelLike;
  } | null;
  readonly #listeners: { [K in keyof AuthClientEvents]: Set<Listener<K>> } = {
    token: new Set(),
    loggedout: new Set(),
  };

  /** The access token: this field and nowhere else (no storage, no cookie written by script). */
  #token: AccessToken | null = null;
  /** `unknown` until the first login or refresh tells; `loggedout` is emitted once per session. */
  #state: 'unknown' | 'signed-in' | 'signed-out' = 'unknown';
  /** The refresh in progress in this tab: every caller that needs one meanwhile shares it. */
  #inflight: Promise<AccessToken> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Messages of ours heard from other tabs so far, and who waits for the next one. */
  #heard = 0;
  readonly #hearing = new Set<() => void>();
  /** Whether the task holding the lock has posted its outcome yet. */
  #posted = false;

  readonly sessions: AuthClient['sessions'];

  constructor(options: AuthClientOptions) {
    this.#base = normaliseBaseUrl(options.baseUrl);
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new TypeError('fingerprint-auth: no fetch available; pass options.fetch');
    }
    // Called as a plain function: a browser's fetch refuses a `this` other than the window.
    this.#fetch = (input, init) => fetchImpl(input, init);
    const margin = options.refreshMarginSeconds ?? DEFAULT_REFRESH_MARGIN_SECONDS;
    if (!Number.isFinite(margin) || margin < 0) {
      throw new TypeError('fingerprint-auth: refreshMarginSeconds must be a number >= 0');
    }
    this.#marginMs = margin * 1000;
    this.#proactive = options.proactiveRefresh ?? true;
    if (options.onLoggedOut) this.#listeners.loggedout.add(options.onLoggedOut);
    if (options.onToken) this.#listeners.token.add(options.onToken);

    const choice = options.crossTab ?? 'auto';
    const plumbing =
      choice === false
        ? null
        : choice === 'auto' || choice === true
          ? browserCrossTab(choice === 'auto')
          : choice;
    if (plumbing === null) {
      this.#crossTab = null;
    } else {
      const channel = plumbing.channel(channelName(this.#base));
      channel.addEventListener('message', (event) =>
        this.#receive((event as { data?: unknown }).data),
      );
      // Node's BroadcastChannel would otherwise keep the process alive; browsers have no unref.
      (channel as { unref?: () => void }).unref?.();
      this.#crossTab = { locks: plumbing.locks, lock: refreshLockName(this.#base), channel };
    }

    this.sessions = {
      list: async () => (await json<SessionListResponse>(await this.#call('/sessions'))).sessions,
      revoke: async (sessionId) => {
        await this.#call(`/sessions/${encodeURIComponent(sessionId)}`, { method: 'DELETE' });
        // The server cleared this browser's cookies: the session is over in every tab.
        if (sessionId === this.#token?.sessionId) this.#signOut('session-revoked', true);
      },
      logoutAll: async () =>
        json<RevokedResponse>(await this.#call('/sessions/logout-all', { method: 'POST' })),
      alerts: async () =>
        (await json<AlertListResponse>(await this.#call('/sessions/alerts'))).alerts,
    };
  }

  get accessToken(): string | null {
    return this.#token?.accessToken ?? null;
  }

  get sessionId(): string | null {
    return this.#token?.sessionId ?? null;
  }

  get accessTokenExpiresAt(): number | null {
    return this.#token?.expiresAt ?? null;
  }

  async register(body: RegisterRequest): Promise<UserResponse> {
    const payload: RegisterRequest = {
      email: body.email,
      password: body.password,
      ...(body.displayName === undefined ? {} : { displayName: body.displayName }),
    };
    const response = await this.#fetch(this.#url('/auth/register'), jsonInit('POST', payload));
    if (!response.ok) throw await errorFromResponse(response);
    return json<UserResponse>(response);
  }

  async login(body: LoginRequest): Promise<TokenResponse> {
    const payload: LoginRequest = { email: body.email, password: body.password };
    // Under the refresh lock: a login replaces the browser's cookies, so it must not interleave
    // with another tab's rotation (whose answer would otherwise overwrite the new cookies).
    return this.#exclusive(async () => {
      const response = await this.#fetch(this.#url('/auth/login'), jsonInit('POST', payload));
      if (!response.ok) throw await errorFromResponse(response);
      const tokens = await json<TokenResponse>(response);
      this.#adopt(tokens, 'login');
      return tokens;
    });
  }

  refresh(): Promise<AccessToken> {
    return this.#refreshAfter(this.#token?.accessToken ?? null);
  }

  async logout(): Promise<void> {
    let failure: unknown;
    try {
      await this.#call('/auth/logout', { method: 'POST' });
    } catch (error) {
      // A 401 means there was no session left to end: logged out all the same.
      if (!(error instanceof FingerprintAuthError && error.status === 401)) failure = error;
    }
    // The server cleared the cookies every tab shares; the other tabs' tokens are dead too.
    this.#signOut('logout', true);
    if (failure !== undefined) throw failure;
  }

  async me(): Promise<MeResponse> {
    return json<MeResponse>(await this.#call('/auth/me'));
  }

  async accountEvents(query: AccountEventsQuery = {}): Promise<AccountEventListResponse> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.before !== undefined) params.set('before', query.before);
    const search = params.toString();
    return json<AccountEventListResponse>(
      await this.#call(search === '' ? '/account/events' : `/account/events?${search}`),
    );
  }

  async changePassword(body: ChangePasswordRequest): Promise<RevokedResponse> {
    const payload: ChangePasswordRequest = {
      currentPassword: body.currentPassword,
      newPassword: body.newPassword,
    };
    return json<RevokedResponse>(await this.#call('/auth/password', jsonInit('POST', payload)));
  }

  async deleteAccount(body: DeleteAccountRequest): Promise<void> {
    const payload: DeleteAccountRequest = { password: body.password };
    await this.#call('/account', jsonInit('DELETE', payload));
    this.#signOut('account-deleted', true);
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const url = this.#url(path);
    const used = this.#token?.accessToken ?? null;
    const first = await this.#send(url, init, used);
    if (first.status !== 401 || !isReplayable(init.body)) return first;

    // If a refresh finished (or another tab's token arrived) while this request was out, the 401
    // was for the old token and the current one is tried without refreshing again.
    let next: string;
    const current = this.#token?.accessToken ?? null;
    if (current !== null && current !== used) {
      next = current;
    } else {
      try {
        next = (await this.#refreshAfter(used)).accessToken;
      } catch (error) {
        if (error instanceof FingerprintAuthError && error.status === 401) return first;
        throw error;
      }
    }
    await discard(first);
    const second = await this.#send(url, init, next);
    // One retry for a request that may change something (POST, PATCH): it runs twice at most,
    // never more. An idempotent one gets a second retry only if yet another token arrived while
    // the first retry was out (another tab rotated in that moment), and never a second refresh.
    const newest = this.#token?.accessToken ?? null;
    if (second.status !== 401 || !isIdempotent(init.method) || newest === null || newest === next) {
      return second;
    }
    await discard(second);
    return this.#send(url, init, newest);
  }

  addEventListener<K extends keyof AuthClientEvents>(type: K, listener: Listener<K>): () => void {
    this.#listeners[type].add(listener);
    return () => this.removeEventListener(type, listener);
  }

  removeEventListener<K extends keyof AuthClientEvents>(type: K, listener: Listener<K>): void {
    this.#listeners[type].delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.#clearTimer();
    this.#crossTab?.channel.close();
  }

  // ---------------------------------------------------------------------------------------------

  #url(path: string): string {
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
      // An absolute URL: only one under baseUrl, so the token never goes to another server.
      if (path === this.#base || path.startsWith(`${this.#base}/`)) return path;
      throw new TypeError(`fingerprint-auth: ${path} is not under baseUrl ${this.#base}`);
    }
    return `${this.#base}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  #send(url: string, init: RequestInit, token: string | null): Promise<Response> {
    const headers = new Headers(init.headers);
    if (token !== null) headers.set('authorization', `Bearer ${token}`);
    return this.#fetch(url, { ...init, headers, credentials: 'include' });
  }

  /** A call to a guarded route of the service: a token first if there is none, then `fetch`; a non-2xx answer throws. */
  async #call(path: string, init: RequestInit = {}): Promise<Response> {
    // After a page load there is no token yet but maybe a session (the cookies survive reloads).
    if (this.#token === null) await this.#refreshAfter(null);
    const response = await this.fetch(path, init);
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  /**
   * Single flight within the tab: the first caller starts the refresh, everyone who needs one
   * before it ends shares it. `stale` is the token the caller found wanting (null: none).
   */
  #refreshAfter(stale: string | null): Promise<AccessToken> {
    if (this.#inflight === null) {
      this.#inflight = this.#coordinatedRefresh(stale).finally(() => {
        this.#inflight = null;
      });
    }
    return this.#inflight;
  }

  /*
   * Refresh across the tabs of one browser, and why it is done this way.
   *
   * The fingerprint cookie and the refresh cookie are HttpOnly and belong to the browser, not to a
   * tab: every tab sends the same jar. The server rotates both on each `POST /auth/refresh`
   * (docs/sessions.md, "Refresh: rotation, theft detection and the two-tab grace rule"):
   *
   * 1. A rotation replaces the fingerprint cookie for every tab, so every access token issued
   *    before it is dead (its `fgp` claim no longer matches the cookie). A tab that refreshed must
   *    therefore hand its new token to the others (BroadcastChannel), and a tab must not refresh
   *    needlessly: each extra rotation kills the token every other tab just received.
   * 2. The refresh credential a tab sends is always the one in the jar, and the browser updates
   *    the jar when the rotating answer arrives. A tab can only present an already-rotated
   *    credential if its refresh was on the wire while another tab's rotation happened. Within
   *    `REFRESH_GRACE_PERIOD` (10 s) the server answers that late request with a token bound to
   *    the *current* fingerprint and sets no cookies, so both tabs end up with working tokens;
   *    later than that it would revoke the session as stolen.
   * 3. So one tab at a time rotates (or logs in): the Web Lock `fingerprint-auth-refresh:<baseUrl>`.
   *    The holder always posts one message before it releases the lock: the new token, the end of
   *    the session, or `unchanged`. A tab that had to wait for the lock first waits for that
   *    message (the lock grant and the message travel separately, so the message may land just
   *    after the grant), then looks whether it brought a newer token than the one this tab found
   *    wanting; if so it uses that token and does not rotate again. Rotating anyway would cost
   *    more than a request: the holder's tab has already retried its requests with its new token,
   *    and a second rotation would make those retries fail.
   *    One moment is left open: a tab whose 401 arrives after the holder released the lock but
   *    before its message did finds the lock free and rotates once more. That is still a normal
   *    rotation; the holder's tab gets the newer token by broadcast, and an idempotent request
   *    whose retry failed in that moment is retried once more with it (see `fetch`).
   * 4. If no message comes (the holder's tab was closed mid-refresh), the waiter rotates with the
   *    jar's credential after HOLDER_MESSAGE_WAIT_MS. That credential is the current one (or, if
   *    the closed tab's rotation reached the server but its answer never reached the jar, the
   *    previous one, within the grace period): a normal rotation, not a reuse.
   * 5. Without Web Locks or BroadcastChannel (Node, old browsers) only this tab's single flight
   *    applies; two such tabs racing are what the grace rule in 2 tolerates.
   */
  #coordinatedRefresh(stale: string | null): Promise<AccessToken> {
    return this.#exclusive(async (heardWhenQueued) => {
      if (heardWhenQueued !== null) await this.#heardSince(heardWhenQueued);
      const current = this.#token;
      if (
        current !== null &&
        current.accessToken !== stale &&
        current.expiresAt - Date.now() > MIN_USEFUL_TOKEN_MS
      ) {
        return current;
      }
      return this.#rotate();
    });
  }

  /** `POST /auth/refresh` with the browser's cookies; a 401 ends the session here (and in every tab). */
  async #rotate(): Promise<AccessToken> {
    const response = await this.#fetch(this.#url('/auth/refresh'), {
      method: 'POST',
      credentials: 'include',
    });
    if (response.ok) return this.#adopt(await json<TokenResponse>(response), 'refresh');
    const error = await errorFromResponse(response);
    // Refused while holding the lock, with the jar's current credential: the session is over for
    // the whole browser, so the other tabs hear it too. 429 and 503 end nothing.
    if (response.status === 401) this.#signOut('refresh-refused', true);
    throw error;
  }

  /**
   * Runs `task` holding the browser's refresh lock where there is one, directly otherwise. The
   * task gets how many messages this tab had heard when it queued behind another holder (null
   * when the lock was free), and the other tabs get one message from it before the lock goes.
   */
  async #exclusive<T>(task: (heardWhenQueued: number | null) => Promise<T>): Promise<T> {
    const crossTab = this.#crossTab;
    if (crossTab === null) return task(null);
    let started = false;
    const hold = async (heardWhenQueued: number | null): Promise<T> => {
      started = true;
      this.#posted = false;
      try {
        return await task(heardWhenQueued);
      } finally {
        if (!this.#posted) this.#post({ kind: 'fingerprint-auth', type: 'unchanged' });
      }
    };
    try {
      const free = await crossTab.locks.request<typeof NOT_ACQUIRED | { value: T }>(
        crossTab.lock,
        { ifAvailable: true },
        (lock) => (lock === null ? NOT_ACQUIRED : hold(null).then((value) => ({ value }))),
      );
      if (free !== NOT_ACQUIRED) return free.value;
      const heard = this.#heard;
      return await crossTab.locks.request(crossTab.lock, { mode: 'exclusive' }, () => hold(heard));
    } catch (error) {
      // The lock manager itself refused (a sandboxed frame, say): go on without it.
      if (started) throw error;
      return task(null);
    }
  }

  /** Resolves once a message beyond the `count`th has been heard, or after HOLDER_MESSAGE_WAIT_MS. */
  #heardSince(count: number): Promise<void> {
    if (this.#heard > count) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#hearing.delete(done);
        resolve();
      };
      const timer = setTimeout(done, HOLDER_MESSAGE_WAIT_MS);
      this.#hearing.add(done);
    });
  }

  #adopt(tokens: TokenResponse, source: 'login' | 'refresh'): AccessToken {
    const token: AccessToken = {
      accessToken: tokens.accessToken,
      expiresAt: Date.now() + tokens.expiresIn * 1000,
      sessionId: tokens.sessionId,
      sessionExpiresAt: tokens.sessionExpiresAt,
    };
    this.#setToken(token, source);
    return token;
  }

  #setToken(token: AccessToken, source: TokenSource): void {
    this.#token = token;
    this.#state = 'signed-in';
    this.#schedule(token, source);
    // Posted before the caller releases the lock (see #coordinatedRefresh).
    if (source !== 'other-tab') this.#post({ kind: 'fingerprint-auth', type: 'token', token });
    this.#emit('token', { type: 'token', source, ...token });
  }

  #signOut(reason: LoggedOutReason, tellOtherTabs: boolean): void {
    const already = this.#state === 'signed-out';
    this.#token = null;
    this.#state = 'signed-out';
    this.#clearTimer();
    if (tellOtherTabs) this.#post({ kind: 'fingerprint-auth', type: 'loggedout' });
    if (!already) this.#emit('loggedout', { type: 'loggedout', reason });
  }

  #receive(data: unknown): void {
    const message = readMessage(data);
    if (message === null || this.#closed) return;
    if (message.type === 'loggedout') {
      this.#signOut('other-tab', false);
    } else if (message.type === 'token' && message.token.accessToken !== this.#token?.accessToken) {
      this.#setToken(message.token, 'other-tab');
    }
    this.#heard += 1;
    for (const wake of [...this.#hearing]) wake();
  }

  #post(message: CrossTabMessage): void {
    this.#posted = true;
    if (this.#closed || this.#crossTab === null) return;
    try {
      this.#crossTab.channel.postMessage(message);
    } catch (error) {
      report(error);
    }
  }

  /**
   * The proactive refresh: `refreshMarginSeconds` before expiry (at most half the lifetime left).
   * A token from another tab waits half as long again: the tab that rotated goes first and its
   * broadcast moves this timer, so the tabs do not all rotate at once.
   */
  #schedule(token: AccessToken, source: TokenSource): void {
    this.#clearTimer();
    if (!this.#proactive || this.#closed) return;
    const left = token.expiresAt - Date.now();
    let margin = Math.min(this.#marginMs, left / 2);
    if (source === 'other-tab') margin /= 2;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        // A failure here is not the user's: a 401 already emitted `loggedout`, and after a network
        // error or a 429 the next request's 401 refreshes again.
        this.#refreshAfter(token.accessToken).catch(() => undefined);
      },
      Math.max(0, left - margin),
    );
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #emit<K extends keyof AuthClientEvents>(type: K, event: AuthClientEvents[K]): void {
    for (const listener of [...this.#listeners[type]]) {
      try {
        listener(event);
      } catch (error) {
        report(error);
      }
    }
  }
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** A JSON request; `credentials: 'include'` so that a cross-origin answer's cookies are kept. */
function jsonInit(method: string, body: unknown): RequestInit {
  return {
    method,
    credentials: 'include',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}
