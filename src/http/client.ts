import type { IncomingHttpHeaders } from 'node:http';

/** User agents longer than this are cut before they are stored or parsed. */
export const MAX_USER_AGENT_LENGTH = 512;

export interface ClientInfo {
  /** The client's address as the app's HTTP adapter decides it (`request.ip`: its proxy trust). */
  readonly ipAddress: string;
  readonly userAgent: string;
  /** The request's id (Fastify's `request.id`), so log lines about it can be found together. */
  readonly requestId?: string;
}

/** What `clientOf` reads of a request: Express's and Fastify's requests both have it. */
export interface HttpRequestLike {
  readonly headers: IncomingHttpHeaders;
  readonly ip?: string | undefined;
  readonly id?: unknown;
  readonly socket?: { readonly remoteAddress?: string | undefined } | undefined;
}

/** Who is asking, from a request of any HTTP adapter. */
export function clientOf(request: HttpRequestLike): ClientInfo {
  const header = request.headers['user-agent'];
  const userAgent = typeof header === 'string' ? header : '';
  return {
    requestId: typeof request.id === 'string' ? request.id : undefined,
    ipAddress: request.ip ?? request.socket?.remoteAddress ?? '',
    userAgent:
      userAgent.length > MAX_USER_AGENT_LENGTH
        ? userAgent.slice(0, MAX_USER_AGENT_LENGTH)
        : userAgent,
  };
}
