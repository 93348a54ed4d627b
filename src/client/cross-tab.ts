/**
 * Coordination between the tabs (and windows) of one browser, which share one cookie jar and
 * therefore one fingerprint cookie and one refresh credential: the Web Locks API so that one tab
 * at a time rotates the credential, and a BroadcastChannel that hands the new access token to the
 * others. Where either is missing (Node, old browsers) the client coordinates within its own
 * process only. Why this is needed and safe: see the comment on `refresh` in auth-client.ts.
 */

/** The part of the Web Locks API (`navigator.locks`) the client uses. */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean },
    callback: (lock: unknown) => T | PromiseLike<T>,
  ): Promise<T>;
}

/** The part of a `BroadcastChannel` the client uses (the browser's and Node's both fit). */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  /** The listener gets a `MessageEvent`; the client reads its `data`. */
  addEventListener(type: 'message', listener: (event: object) => void): void;
  close(): void;
}

/** Explicit cross-tab plumbing, e.g. `{ locks: navigator.locks, channel: (name) => new BroadcastChannel(name) }`. */
export interface CrossTabOptions {
  readonly locks: LockManagerLike;
  readonly channel: (name: string) => BroadcastChannelLike;
}

/**
 * The Web Lock a tab holds while it rotates the refresh credential (or logs in):
 * `fingerprint-auth-refresh:<baseUrl>`, one per API, since the cookies are per API.
 */
export const refreshLockName = (baseUrl: string): string => `fingerprint-auth-refresh:${baseUrl}`;

/** The channel the tabs share tokens on: `fingerprint-auth:<baseUrl>`, one per API too. */
export const channelName = (baseUrl: string): string => `fingerprint-auth:${baseUrl}`;

interface BrowserGlobals {
  navigator?: { locks?: LockManagerLike };
  BroadcastChannel?: new (name: string) => BroadcastChannelLike;
  document?: unknown;
}

/**
 * The browser's Web Locks and BroadcastChannel, when both exist. `requireWindow` (the default
 * choice) also wants a `document`: Node 22+ has `navigator` and `BroadcastChannel` too, where
 * several clients of one process each carry their own cookies and must not share tokens.
 */
export function browserCrossTab(requireWindow: boolean): CrossTabOptions | null {
  const globals = globalThis as unknown as BrowserGlobals;
  const locks = globals.navigator?.locks;
  const Channel = globals.BroadcastChannel;
  if (locks === undefined || typeof locks.request !== 'function' || Channel === undefined) {
    return null;
  }
  if (requireWindow && typeof globals.document !== 'object') return null;
  return { locks, channel: (name) => new Channel(name) };
}

/** A token one tab hands the others; `expiresAt` is in ms since the epoch (same machine, same clock). */
export interface SharedToken {
  readonly accessToken: string;
  readonly expiresAt: number;
  readonly sessionId: string;
  readonly sessionExpiresAt: string;
}

/**
 * What a tab posts before it releases the lock, always exactly one: the new token, the end of the
 * session, or `unchanged` (its login or refresh failed, and the credential stayed as it was as far
 * as it knows), so a tab waiting for the lock knows when the holder's news has arrived.
 */
export type CrossTabMessage =
  | { readonly kind: 'fingerprint-auth'; readonly type: 'token'; readonly token: SharedToken }
  | { readonly kind: 'fingerprint-auth'; readonly type: 'loggedout' }
  | { readonly kind: 'fingerprint-auth'; readonly type: 'unchanged' };

/** A message of ours, checked field by field (anything may post on a channel of the origin). */
export function readMessage(data: unknown): CrossTabMessage | null {
  if (typeof data !== 'object' || data === null) return null;
  const message = data as Record<string, unknown>;
  if (message.kind !== 'fingerprint-auth') return null;
  if (message.type === 'loggedout') return { kind: 'fingerprint-auth', type: 'loggedout' };
  if (message.type === 'unchanged') return { kind: 'fingerprint-auth', type: 'unchanged' };
  if (message.type !== 'token' || typeof message.token !== 'object' || message.token === null) {
    return null;
  }
  const token = message.token as Record<string, unknown>;
  if (
    typeof token.accessToken !== 'string' ||
    typeof token.expiresAt !== 'number' ||
    !Number.isFinite(token.expiresAt) ||
    typeof token.sessionId !== 'string' ||
    typeof token.sessionExpiresAt !== 'string'
  ) {
    return null;
  }
  return {
    kind: 'fingerprint-auth',
    type: 'token',
    token: {
      accessToken: token.accessToken,
      expiresAt: token.expiresAt,
      sessionId: token.sessionId,
      sessionExpiresAt: token.sessionExpiresAt,
    },
  };
}
