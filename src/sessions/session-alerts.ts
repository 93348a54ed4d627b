import type { AlertCode, SessionAlert } from '../http/contract';
import { Session } from './session';

export type { AlertCode, SessionAlert };

export interface AlertThresholds {
  /** Alert when the user has more live sessions than this. */
  readonly maxSessions: number;
  /** Alert when the user's live sessions come from more distinct IP addresses than this. */
  readonly maxIpAddresses: number;
}

/**
 * Detection only: what looks unusual about a user's live sessions. Nothing here blocks a request.
 */
export function sessionAlerts(
  sessions: readonly Session[],
  thresholds: AlertThresholds,
): SessionAlert[] {
  const alerts: SessionAlert[] = [];
  if (sessions.length > thresholds.maxSessions) {
    alerts.push({
      code: 'TOO_MANY_SESSIONS',
      message: `${sessions.length} active sessions (more than ${thresholds.maxSessions})`,
      count: sessions.length,
    });
  }
  const addresses = new Set(sessions.map((session) => session.ipAddress));
  if (addresses.size > thresholds.maxIpAddresses) {
    alerts.push({
      code: 'MANY_IP_ADDRESSES',
      message: `Active sessions from ${addresses.size} IP addresses (more than ${thresholds.maxIpAddresses})`,
      count: addresses.size,
    });
  }
  for (const session of sessions) {
    if (session.loginIpAddress !== null) {
      alerts.push({
        code: 'IP_ADDRESS_CHANGED',
        message: 'A session is being used from a different IP address than it logged in from',
        sessionId: session.id,
      });
    }
    if (session.loginUserAgent !== null) {
      alerts.push({
        code: 'USER_AGENT_CHANGED',
        message: 'A session is being used from a different browser than it logged in from',
        sessionId: session.id,
      });
    }
  }
  // A country is new when none of the user's earlier live sessions is in it: the laptop that has
  // been in GB all along is not flagged because a phone turned up in JP, the phone is.
  const byAge = [...sessions].sort((a, b) => a.createdAt - b.createdAt);
  byAge.forEach((session, index) => {
    const country = session.location?.country;
    if (!country || index === 0) return;
    const seenBefore = byAge
      .slice(0, index)
      .some((earlier) => earlier.location?.country === country);
    if (!seenBefore) {
      alerts.push({
        code: 'NEW_COUNTRY',
        message: `A session is in ${country}, where none of your earlier sessions is`,
        sessionId: session.id,
        country,
      });
    }
  });
  return alerts;
}
