/**
 * The HTTP contract of fingerprint-auth's routes as plain TypeScript: the request and response
 * bodies, the error shape and its codes. One file for both sides:
 *
 * - the server's DTO classes (`src/auth/dto`, `src/sessions/dto`, `src/http/error-response.dto.ts`)
 *   `implement` these interfaces, and the values the routes return are typed with them, so a field
 *   that drifts on either side fails `tsc`;
 * - the browser client (`fingerprint-auth/client`, `src/client`) imports them as types only, and
 *   re-exports them for its users.
 *
 * This file holds types and nothing else: it imports nothing and emits no code, so the client's
 * built output stays free of the server's dependencies (ESLint keeps it so). The client's
 * declarations (dist/client/*.d.ts) point at this file's (dist/http/contract.d.ts).
 */

/** `POST /auth/register`. The email is normalised by the server (docs/api.md, "Email addresses"). */
export interface RegisterRequest {
  readonly email: string;
  /** 8 to 128 characters. */
  readonly password: string;
  /** 1 to 100 characters, no control characters. */
  readonly displayName?: string;
}

/** `POST /auth/login`. */
export interface LoginRequest {
  readonly email: string;
  readonly password: string;
}

/** `POST /auth/password`. */
export interface ChangePasswordRequest {
  readonly currentPassword: string;
  /** 8 to 128 characters. */
  readonly newPassword: string;
}

/** `DELETE /account`: the current password, asked again. */
export interface DeleteAccountRequest {
  readonly password: string;
}

/** `POST /auth/register` answers 201 with the new account. */
export interface UserResponse {
  readonly id: string;
  /** In its normalised form. */
  readonly email: string;
  readonly displayName: string | null;
  /** ISO 8601. */
  readonly createdAt: string;
}

/**
 * `POST /auth/login` and `POST /auth/refresh`. The fingerprint and the refresh credential travel
 * in HttpOnly cookies the browser keeps; only the access token is in the body.
 */
export interface TokenResponse {
  /** HS256 JWT; only valid together with the fingerprint cookie. */
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  readonly expiresIn: number;
  readonly sessionId: string;
  /** ISO 8601: when the session ends if nothing more happens (idle expiry, never past the absolute one). */
  readonly sessionExpiresAt: string;
}

/** `GET /auth/me`. */
export interface MeResponse {
  readonly id: string;
  readonly email: string;
  readonly displayName: string | null;
  readonly sessionId: string;
}

/** `POST /auth/password` and `POST /sessions/logout-all`: how many sessions were ended. */
export interface RevokedResponse {
  readonly revoked: number;
}

export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'bot' | 'unknown';

/** A session's device, parsed from its user agent. */
export interface Device {
  /** Browser name with its major version, e.g. `Chrome 120`; null when unknown. */
  readonly browser: string | null;
  /** OS name with its version, e.g. `macOS 14.1`; null when unknown. */
  readonly os: string | null;
  readonly type: DeviceType;
}

/** Where a session's address is, as far as the server's GeoIP database knows. */
export interface SessionLocation {
  /** ISO 3166-1 alpha-2 code. */
  readonly country: string;
  readonly countryName: string;
  readonly region?: string;
  readonly city?: string;
}

/** One entry of `GET /sessions`: never a token, fingerprint or hash. */
export interface SessionEntry {
  readonly id: string;
  /** True for the session making the request. */
  readonly current: boolean;
  readonly device: Device;
  /** Null when unknown (private address, GeoIP off). */
  readonly location: SessionLocation | null;
  readonly userAgent: string;
  readonly ipAddress: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601. */
  readonly lastActivity: string;
  /** ISO 8601: the idle expiry, never past the absolute one. */
  readonly expiresAt: string;
}

/** `GET /sessions`: most recent activity first. */
export interface SessionListResponse {
  readonly sessions: readonly SessionEntry[];
}

export type AlertCode =
  | 'TOO_MANY_SESSIONS'
  | 'MANY_IP_ADDRESSES'
  | 'IP_ADDRESS_CHANGED'
  | 'USER_AGENT_CHANGED'
  | 'NEW_COUNTRY';

/** What looks unusual about a user's sessions (detection only, never a block). */
export interface SessionAlert {
  readonly code: AlertCode;
  readonly message: string;
  /** The session the alert is about. */
  readonly sessionId?: string;
  /** Sessions or addresses counted. */
  readonly count?: number;
  /** Country of a `NEW_COUNTRY` alert. */
  readonly country?: string;
}

/** `GET /sessions/alerts`. */
export interface AlertListResponse {
  readonly alerts: readonly SessionAlert[];
}

/** Every `code` an error answer can carry (docs/api.md, "Errors"). */
export type ErrorCode =
  | 'CURRENT_PASSWORD_INCORRECT'
  | 'EMAIL_TAKEN'
  | 'RATE_LIMITED'
  | 'SESSION_LIMIT_REACHED'
  | 'SESSION_STORE_FULL'
  | 'STORE_UNAVAILABLE';

/** Every error answer. 429 and every 503 with a code also carry `Retry-After` (seconds). */
export interface ErrorResponse {
  readonly statusCode: number;
  /** HTTP reason phrase. */
  readonly error: string;
  /** What went wrong; a list of messages for an invalid body. */
  readonly message: string | readonly string[];
  /** Sent only where a client must tell reasons apart. */
  readonly code?: ErrorCode;
}

/** What happened to an account (`GET /account/events`). */
export type AccountEventType =
  | 'login'
  | 'login_failed'
  | 'refresh'
  | 'refresh_reuse'
  | 'logout'
  | 'session_revoked'
  | 'logout_all'
  | 'password_changed'
  | 'session_evicted'
  | 'alert';

export interface AccountEventDetail {
  /** The alert raised (`alert`). */
  readonly code?: string;
  /** Sessions ended (`logout_all`, `password_changed`). */
  readonly count?: number;
}

export interface AccountEvent {
  /** Sortable; pass it as `before` to read older events. */
  readonly id: string;
  readonly type: AccountEventType;
  /** ISO 8601. */
  readonly at: string;
  /** The session it is about: logged into, refreshed, ended, evicted, flagged. */
  readonly sessionId: string | null;
  /** The session that acted, where another one did. */
  readonly actorSessionId: string | null;
  readonly ipAddress: string | null;
  readonly userAgent: string | null;
  readonly device: Device | null;
  readonly location: SessionLocation | null;
  readonly detail: AccountEventDetail | null;
}

/** `GET /account/events?limit=&before=`. */
export interface AccountEventsQuery {
  /** 1 to 100; 20 when left out. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly before?: string;
}

export interface AccountEventListResponse {
  /** Newest first. */
  readonly events: readonly AccountEvent[];
  /** `before` for the next (older) page; null on the last. */
  readonly nextCursor: string | null;
}
