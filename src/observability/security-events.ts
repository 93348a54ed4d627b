import { Injectable, Logger } from '@nestjs/common';
import type { NewAuditEvent } from '../audit/audit-event';
import { AuditTrail } from '../audit/audit-trail';
import type { LoginResult, RejectionReason } from '../auth/auth-rejection';
import type { GeoLocation } from '../geoip/geo-location';
import { GeoLocator } from '../geoip/geo-locator';
import type { RevocationReason } from '../sessions/session';
import type { ClientInfo } from '../http/client';
import { FingerprintAuthMetrics } from './metrics';

/** Alerts already recorded in the audit trail, as `session:code`, before the set starts over. */
const RECORDED_ALERTS_LIMIT = 10_000;

/** What a log line says about the request behind an event: its id and client address. */
function requestFields(client: ClientInfo | undefined): { reqId?: string; ip?: string } {
  if (client === undefined) return {};
  return {
    ...(client.requestId !== undefined ? { reqId: client.requestId } : {}),
    ip: client.ipAddress,
  };
}

/**
 * Security-relevant events: each is logged at a level an operator watches (warn for anything that
 * may be an attack), counted in the metrics and, where it concerns an account, recorded in that
 * account's audit trail (`AuditTrail`: queued, never waited for). Never given a secret, token or
 * password.
 */
@Injectable()
export class SecurityEvents {
  private readonly logger = new Logger('Security');
  private readonly recordedAlerts = new Set<string>();

  constructor(
    private readonly metrics: FingerprintAuthMetrics,
    private readonly audit: AuditTrail,
    private readonly geo: GeoLocator,
  ) {}

  /** `userId`: the account, when it exists (a failed login of an unknown email has none). */
  login(
    result: LoginResult,
    client: ClientInfo,
    details: { userId?: string; sessionId?: string; location?: GeoLocation | null } = {},
  ): void {
    this.metrics.logins.inc({ result });
    const { location, ...logged } = details;
    const fields = { result, ...logged, ...requestFields(client) };
    if (result === 'success') this.logger.log({ event: 'login', ...fields });
    else this.logger.warn({ event: 'login_failed', ...fields });
    if (details.userId === undefined) return;
    if (result === 'success') {
      this.record(details.userId, 'login', client, {
        sessionId: details.sessionId ?? null,
        location: location ?? null,
      });
    } else if (result === 'invalid_credentials') {
      this.record(details.userId, 'login_failed', client);
    }
  }

  guardRejected(reason: RejectionReason, client?: ClientInfo): void {
    this.metrics.guardRejections.inc({ reason });
    this.logger.warn({ event: 'guard_rejected', reason, ...requestFields(client) });
  }

  /**
   * `sessionId`: the session ended (one); `actorSessionId`: the session whose request ended it,
   * when that is another one (a revocation from the device list, logout-all).
   */
  sessionRevoked(
    reason: RevocationReason,
    count: number,
    details: { userId: string; sessionId?: string; actorSessionId?: string },
    client?: ClientInfo,
  ): void {
    const { actorSessionId, ...logged } = details;
    if (reason === 'logout' && count > 0) {
      this.record(details.userId, 'logout', client, { sessionId: details.sessionId ?? null });
    } else if (reason === 'user' && count > 0) {
      this.record(details.userId, 'session_revoked', client, {
        sessionId: details.sessionId ?? null,
        actorSessionId: actorSessionId ?? null,
      });
    } else if (reason === 'logout_all') {
      this.record(details.userId, 'logout_all', client, {
        actorSessionId: actorSessionId ?? null,
        detail: { count },
      });
    }
    if (count <= 0) return;
    this.metrics.revocations.inc({ reason }, count);
    const level = reason === 'refresh_reuse' || reason === 'user_missing' ? 'warn' : 'log';
    this.logger[level]({
      event: 'session_revoked',
      reason,
      count,
      ...logged,
      ...requestFields(client),
    });
  }

  /** The password changed from `sessionId`, ending `count` other sessions. */
  passwordChanged(
    details: { userId: string; sessionId: string; count: number },
    client?: ClientInfo,
  ): void {
    this.logger.log({
      event: 'password_changed',
      userId: details.userId,
      sessionId: details.sessionId,
      ...requestFields(client),
    });
    this.record(details.userId, 'password_changed', client, {
      actorSessionId: details.sessionId,
      detail: { count: details.count },
    });
  }

  /** The per-user limit ended `evicted` to make room for the login of `bySessionId`. */
  sessionsEvicted(
    evicted: readonly string[],
    details: { userId: string; bySessionId: string },
    client?: ClientInfo,
  ): void {
    if (evicted.length <= 0) return;
    this.metrics.evictions.inc(evicted.length);
    this.logger.log({ event: 'session_evicted', count: evicted.length, userId: details.userId });
    for (const sessionId of evicted) {
      this.record(details.userId, 'session_evicted', client, {
        sessionId,
        actorSessionId: details.bySessionId,
      });
    }
  }

  refresh(
    result: 'rotated' | 'grace' | 'reused' | 'invalid',
    client: ClientInfo,
    details: { sessionId?: string; userId?: string; location?: GeoLocation | null } = {},
  ): void {
    this.metrics.refreshes.inc({ result });
    if (details.userId !== undefined && (result === 'rotated' || result === 'reused')) {
      this.record(details.userId, result === 'rotated' ? 'refresh' : 'refresh_reuse', client, {
        sessionId: details.sessionId ?? null,
        ...(details.location !== undefined ? { location: details.location } : {}),
      });
    }
    const logged = details.sessionId !== undefined ? { sessionId: details.sessionId } : {};
    if (result === 'reused') {
      this.logger.warn({ event: 'refresh_reuse_detected', ...logged, ...requestFields(client) });
    } else if (result === 'invalid') {
      this.logger.warn({ event: 'refresh_rejected', ...logged, ...requestFields(client) });
    }
  }

  /** A request refused by a rate limit: brute force or credential stuffing, or a busy NAT. */
  rateLimited(route: string, scope: string, client?: ClientInfo): void {
    this.metrics.rateLimited.inc({ route, scope });
    this.logger.warn({ event: 'rate_limited', route, scope, ...requestFields(client) });
  }

  alertRaised(
    code: string,
    details: { userId: string; sessionId?: string },
    client?: ClientInfo,
  ): void {
    this.metrics.alerts.inc({ code });
    this.logger.warn({ event: 'session_alert', code, ...details, ...requestFields(client) });
    // Alerts are worked out whenever they are asked for; the trail keeps each one once (per
    // session and code, as far as this process remembers).
    const key = `${details.sessionId ?? ''}:${code}`;
    if (this.recordedAlerts.has(key)) return;
    if (this.recordedAlerts.size >= RECORDED_ALERTS_LIMIT) this.recordedAlerts.clear();
    this.recordedAlerts.add(key);
    this.record(details.userId, 'alert', client, {
      sessionId: details.sessionId ?? null,
      detail: { code },
    });
  }

  /** Queues an audit event of the account, from the request's client (located unless given). */
  private record(
    userId: string,
    type: NewAuditEvent['type'],
    client: ClientInfo | undefined,
    fields: Partial<
      Pick<NewAuditEvent, 'sessionId' | 'actorSessionId' | 'location' | 'detail'>
    > = {},
  ): void {
    if (!this.audit.enabled) return;
    const ipAddress = client?.ipAddress ?? null;
    this.audit.record({
      userId,
      type,
      sessionId: fields.sessionId ?? null,
      actorSessionId: fields.actorSessionId ?? null,
      ipAddress,
      userAgent: client?.userAgent ?? null,
      location:
        fields.location !== undefined
          ? fields.location
          : ipAddress === null
            ? null
            : this.geo.locate(ipAddress),
      detail: fields.detail ?? null,
    });
  }
}
