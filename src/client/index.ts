/*
 * fingerprint-auth/client: the browser (and Node) client of the service's routes. ES module, no
 * runtime dependency; see docs/client.md.
 */
export { createAuthClient } from './auth-client.js';
export type {
  AccessToken,
  AuthClient,
  AuthClientEvents,
  AuthClientOptions,
  LoggedOutEvent,
  LoggedOutReason,
  TokenEvent,
  TokenSource,
} from './auth-client.js';
export { FingerprintAuthError, parseRetryAfter } from './errors.js';
export { channelName, refreshLockName } from './cross-tab.js';
export type { BroadcastChannelLike, CrossTabOptions, LockManagerLike } from './cross-tab.js';
export type * from '../http/contract.js';
