import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Env } from '../config';
import { RevocationReason, SecurityEvents } from '../observability/security-events';
import { NewSession, Session } from './session';
import { SessionAlert, sessionAlerts, AlertThresholds } from './session-alerts';
import { SessionNotFoundError } from './session.errors';
import { SESSION_ID_PATTERN } from './session-id';
import { CreateSessionResult, SessionRepository } from './session.repository';
import { SessionView, sessionView } from './session.view';

@Injectable()
export class SessionsService {
  private readonly thresholds: AlertThresholds;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly events: SecurityEvents,
    config: ConfigService<Env, true>,
  ) {
    this.thresholds = {
      maxSessions: config.get('ALERT_MAX_SESSIONS', { infer: true }),
      maxIpAddresses: config.get('ALERT_MAX_IPS', { infer: true }),
    };
  }

  /** Stores a new session under the per-user limit; evictions are logged and counted. */
  async start(input: NewSession): Promise<CreateSessionResult> {
    const result = await this.sessions.create(input);
    this.events.sessionsEvicted(result.evicted.length, { userId: input.userId });
    return result;
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
  ): Promise<Session> {
    // Anything that is not shaped like a session id names no session: the same 404, no store call.
    const revoked = SESSION_ID_PATTERN.test(sessionId)
      ? await this.sessions.revoke(sessionId, userId)
      : null;
    if (!revoked) throw new SessionNotFoundError();
    this.events.sessionRevoked(reason, 1, { userId, sessionId });
    return revoked;
  }

  /** Ends every session of the user but `exceptSessionId`; returns how many ended. */
  async revokeOthers(
    userId: string,
    exceptSessionId: string,
    reason: RevocationReason,
  ): Promise<number> {
    const count = await this.sessions.revokeAllForUser(userId, exceptSessionId);
    this.events.sessionRevoked(reason, count, { userId });
    return count;
  }

  async alerts(userId: string): Promise<SessionAlert[]> {
    const alerts = sessionAlerts(await this.sessions.listByUser(userId), this.thresholds);
    for (const alert of alerts)
      this.events.alertRaised(alert.code, { userId, sessionId: alert.sessionId });
    return alerts;
  }
}
