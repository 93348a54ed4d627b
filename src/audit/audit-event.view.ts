import type { AccountEvent } from '../http/contract';
import { parseDevice } from '../sessions/device';
import { locationView } from '../sessions/session.view';
import { AuditEvent } from './audit-event';

/** An audit event as its user sees it (`GET /account/events`). */
export function auditEventView(event: AuditEvent): AccountEvent {
  return {
    id: event.id,
    type: event.type,
    at: new Date(event.at).toISOString(),
    sessionId: event.sessionId,
    actorSessionId: event.actorSessionId,
    ipAddress: event.ipAddress,
    userAgent: event.userAgent,
    device: event.userAgent === null ? null : parseDevice(event.userAgent),
    location: locationView(event.location),
    detail: event.detail,
  };
}
