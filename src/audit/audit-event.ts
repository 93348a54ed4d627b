import { everyMember } from '../common/every-member';
import type { GeoLocation } from '../geoip/geo-location';
import type { AccountEventType } from '../http/contract';

/** What happened to an account, as its user sees it in `GET /account/events`. */
export const AUDIT_EVENT_TYPES = everyMember<AccountEventType>()([
  /** A login succeeded: `sessionId` is the new session. */
  'login',
  /** A login of an existing account failed (wrong password); unknown emails are not recorded. */
  'login_failed',
  /** A refresh credential was rotated. */
  'refresh',
  /** A rotated-out refresh credential was replayed after the grace period: the session ended (theft). */
  'refresh_reuse',
  'logout',
  /** One session ended by its user: `sessionId` the one ended, `actorSessionId` the one that ended it. */
  'session_revoked',
  /** Every other session ended from `actorSessionId`; `detail.count` how many. */
  'logout_all',
  /** The password changed from `actorSessionId`; `detail.count` other sessions ended with it. */
  'password_changed',
  /** The per-user limit ended `sessionId` to make room for the login of `actorSessionId`. */
  'session_evicted',
  /** An alert was raised about `sessionId`: `detail.code` (`NEW_COUNTRY`, ...). */
  'alert',
]);

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export interface AuditDetail {
  readonly code?: string;
  readonly count?: number;
}

/** An event as recorded: the request's client, never a token, hash or password. */
export interface NewAuditEvent {
  readonly userId: string;
  readonly type: AuditEventType;
  readonly sessionId: string | null;
  readonly actorSessionId: string | null;
  readonly ipAddress: string | null;
  readonly userAgent: string | null;
  readonly location: GeoLocation | null;
  readonly detail: AuditDetail | null;
}

export interface AuditEvent extends NewAuditEvent {
  /** A ULID: sortable by time, monotonic within a process; the listing's cursor. */
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

/** Crockford base32, 26 characters: what `AuditEvent.id` (and so a cursor) looks like. */
export const AUDIT_EVENT_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
