import { Injectable, Logger } from '@nestjs/common';
import type { LoginResult, RejectionReason } from '../auth/auth-rejection';
import type { RevocationReason } from '../sessions/session';
import type { ClientInfo } from '../http/client';
import { FingerprintAuthMetrics } from './metrics';

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
 * may be an attack) and counted in the metrics. Never given a secret, token or password.
 */
@Injectable()
export class SecurityEvents {
  private readonly logger = new Logger('Security');

  constructor(private readonly metrics: FingerprintAuthMetrics) {}

  login(
    result: LoginResult,
    client: ClientInfo,
    details: { userId?: string; sessionId?: string } = {},
  ): void {
    this.metrics.logins.inc({ result });
    const fields = { result, ...details, ...requestFields(client) };
    if (result === 'success') this.logger.log({ event: 'login', ...fields });
    else this.logger.warn({ event: 'login_failed', ...fields });
  }

  guardRejected(reason: RejectionReason, client?: ClientInfo): void {
    this.metrics.guardRejections.inc({ reason });
    this.logger.warn({ event: 'guard_rejected', reason, ...requestFields(client) });
  }

  sessionRevoked(
    reason: RevocationReason,
    count: number,
    details: { userId: string; sessionId?: string },
    client?: ClientInfo,
  ): void {
    if (count <= 0) return;
    this.metrics.revocations.inc({ reason }, count);
    const level = reason === 'refresh_reuse' || reason === 'user_missing' ? 'warn' : 'log';
    this.logger[level]({
      event: 'session_revoked',
      reason,
      count,
      ...details,
      ...requestFields(client),
    });
  }

  sessionsEvicted(count: number, details: { userId: string }): void {
    if (count <= 0) return;
    this.metrics.evictions.inc(count);
    this.logger.log({ event: 'session_evicted', count, ...details });
  }

  refresh(
    result: 'rotated' | 'grace' | 'reused' | 'invalid',
    client: ClientInfo,
    details: { sessionId?: string } = {},
  ): void {
    this.metrics.refreshes.inc({ result });
    if (result === 'reused') {
      this.logger.warn({ event: 'refresh_reuse_detected', ...details, ...requestFields(client) });
    } else if (result === 'invalid') {
      this.logger.warn({ event: 'refresh_rejected', ...details, ...requestFields(client) });
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
  }
}
