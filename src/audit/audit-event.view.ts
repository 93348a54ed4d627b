import { Device, parseDevice } from '../sessions/device';
import { LocationView, locationView } from '../sessions/session.view';
import { AuditDetail, AuditEvent, AuditEventType } from './audit-event';

/** An audit event as its user sees it. */
export interface AuditEventView {
  readonly id: string;
  readonly type: AuditEventType;
  readonly at: string;
  readonly sessionId: string | null;
  readonly actorSessionId: string | null;
  readonly ipAddress: string | null;
  readonly userAgent: string | null;
  readonly device: Device | null;
  readonly location: LocationView | null;
  readonly detail: AuditDetail | null;
}

export function auditEventView(event: AuditEvent): AuditEventView {
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
