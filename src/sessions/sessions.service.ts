import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import type { ClientInfo } from '../http/client';
import { SecurityEvents } from '../observability/security-events';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { NewSession, RevocationReason, Session, toSeconds } from './session';
import { AlertThresholds, SessionAlert, sessionAlerts } from './session-alerts';
import { SessionNotFoundError } from './session.errors';
import { SESSION_ID_PATTERN } from './session-id';
import {
  CreateSessionResult,
  RefreshOutcome,
  RefreshRotation,
  SessionRepository,
} from './session.repository';
import { SessionView, sessionView } from './session.view';

/** What an access token says about its session (its verified `sub`, `sid` and `fgp` claims). */
export interface SessionClaims {
  readonly sub: string;
  readonly sid: string;
  readonly fgp: string;
}

/** Why a token's session was refused: gone (revoked, expired) or not the token's. */
export type SessionRejection = 'session_not_found' | 'session_mismatch';

/**
 * The one door to the session store: starting, authenticating, touching, rotating, listing and
 * ending sessions, each logged and counted where it matters. Nothing else talks to the
 * `SessionRepository` on a request's behalf.
 */
@Injectable()
export class SessionsService {
  private readonly thresholds: AlertThresholds;
  private readonly activityInterval: number;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
    config: FingerprintAuthConfig,
  ) {
    this.thresholds = {
      maxSessions: config.alertMaxSessions,
      maxIpAddresses: config.alertMaxIps,
    };
    this.activityInterval = config.sessionActivityInterval;
  }

  /** Stores a new session under the per-user limit; evictions are logged and counted. */
  async start(input: NewSession): Promise<CreateSessionResult> {
    const result = await this.sessions.create(input);
    this.events.sessionsEvicted(
      result.evicted.map((session) => session.id),
      { userId: input.userId, bySessionId: input.id },
      { ipAddress: input.ipAddress, userAgent: input.userAgent },
    );
    return result;
  }

  /**
   * The live session a verified token names, when it belongs to the token's user and holds the
   * token's fingerprint hash; records activity (at most every sessionActivityInterval, or when
   * the address or browser changed).
   */
  async authenticate(
    claims: SessionClaims,
    client: ClientInfo,
  ): Promise<Session | SessionRejection> {
    return this.authenticateNow(claims, client);
  }

  /**
   * `authenticate` without a promise where it can: the verdict itself when the store has the
   * session at hand in this process (`findInMemory`) and no activity is due (the guard's path);
   * otherwise the promise `authenticate` returns.
   */
  authenticateNow(
    claims: SessionClaims,
    client: ClientInfo,
  ): Session | SessionRejection | Promise<Session | SessionRejection> {
    const found = this.sessions.findInMemory(claims.sid);
    if (found === undefined) return this.lookUp(claims, client);
    return this.checked(found, claims, client);
  }

  private async lookUp(
    claims: SessionClaims,
    client: ClientInfo,
  ): Promise<Session | SessionRejection> {
    return this.checked(await this.sessions.findById(claims.sid), claims, client);
  }

  /**
   * The verdict on a session read for these claims, once its activity, if due, is recorded. The
   * fingerprint hash is compared as text, with an early exit: both sides are the server's own (the
   * claim is in a token whose signature was verified, and it was checked against the cookie in
   * constant time already), and the session's hash is in every token issued for it, so the time
   * taken tells a caller nothing the token does not say.
   */
  private checked(
    session: Session | null,
    claims: SessionClaims,
    client: ClientInfo,
  ): Session | SessionRejection | Promise<Session> {
    if (session === null) return 'session_not_found';
    if (session.userId !== claims.sub || session.fingerprintHash !== claims.fgp) {
      return 'session_mismatch';
    }
    const activityDue =
      toSeconds(this.clock.now()) - session.lastActivity >= this.activityInterval ||
      client.ipAddress !== session.ipAddress ||
      client.userAgent !== session.userAgent;
    return activityDue ? this.recordActivity(session, client) : session;
  }

  private async recordActivity(session: Session, client: ClientInfo): Promise<Session> {
    await this.sessions.touch(session.id, client.ipAddress, client.userAgent);
    return session;
  }

  /** The live session with this id, or null (a refresh checks its credential against it). */
  find(sessionId: string): Promise<Session | null> {
    return this.sessions.findById(sessionId);
  }

  /** Checks a presented refresh credential and rotates it (see `RefreshOutcome`). */
  rotateRefresh(sessionId: string, rotation: RefreshRotation): Promise<RefreshOutcome> {
    return this.sessions.rotateRefresh(sessionId, rotation);
  }

  /** The user's live sessions, most recent activity first. */
  async list(userId: string, currentSessionId: string): Promise<SessionView[]> {
    const sessions = await this.sessions.listByUser(userId);
    return sessions
      .sort((a, b) => b.lastActivity - a.lastActivity || b.createdAt - a.createdAt)
      .map((session) => sessionView(session, currentSessionId));
  }

  /** Ends one of the user's own sessions; `SessionNotFoundError` for anything else. */
  async revoke(
    userId: string,
    sessionId: string,
    reason: RevocationReason = 'user',
    client?: ClientInfo,
    actorSessionId?: string,
  ): Promise<Session> {
    // Anything that is not shaped like a session id names no session: the same 404, no store call.
    const revoked = SESSION_ID_PATTERN.test(sessionId)
      ? await this.sessions.revoke(sessionId, userId)
      : null;
    if (!revoked) throw new SessionNotFoundError();
    this.events.sessionRevoked(reason, 1, { userId, sessionId, actorSessionId }, client);
    return revoked;
  }

  /** Removes a session that must not stand (its user vanished meanwhile); nothing is logged. */
  async discard(sessionId: string, userId: string): Promise<void> {
    await this.sessions.revoke(sessionId, userId);
  }

  /** Ends every session of the user but `exceptSessionId`; returns how many ended. */
  async revokeOthers(
    userId: string,
    exceptSessionId: string,
    reason: RevocationReason,
    client?: ClientInfo,
  ): Promise<number> {
    const count = await this.sessions.revokeAllForUser(userId, exceptSessionId);
    this.events.sessionRevoked(reason, count, { userId, actorSessionId: exceptSessionId }, client);
    return count;
  }

  /** Ends every session of the user; returns how many ended (logging is the caller's). */
  endAll(userId: string): Promise<number> {
    return this.sessions.revokeAllForUser(userId);
  }

  async alerts(userId: string, client?: ClientInfo): Promise<SessionAlert[]> {
    const alerts = sessionAlerts(await this.sessions.listByUser(userId), this.thresholds);
    for (const alert of alerts) {
      this.events.alertRaised(alert.code, { userId, sessionId: alert.sessionId }, client);
    }
    return alerts;
  }
}
