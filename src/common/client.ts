import type { FastifyRequest } from 'fastify';

/** User agents longer than this are cut before they are stored or parsed. */
export const MAX_USER_AGENT_LENGTH = 512;

export interface ClientInfo {
  /** The socket address, or the forwarded one when TRUST_PROXY trusts the proxy (Fastify's `request.ip`). */
  readonly ipAddress: string;
  readonly userAgent: string;
  /** The request's id (`X-Request-Id`), so log lines about it can be found together. */
  readonly requestId?: string;
}

export function clientOf(request: FastifyRequest): ClientInfo {
  const userAgent = request.headers['user-agent'] ?? '';
  return {
    requestId: typeof request.id === 'string' ? request.id : undefined,
    ipAddress: request.ip ?? '',
    userAgent:
      userAgent.length > MAX_USER_AGENT_LENGTH
        ? userAgent.slice(0, MAX_USER_AGENT_LENGTH)
        : userAgent,
  };
}
