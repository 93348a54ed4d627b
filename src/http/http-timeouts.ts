import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ServiceConfig } from '../config';

/**
 * How often Node checks the request and header deadlines. Its default, 30 s, would let a 5 s
 * REQUEST_TIMEOUT run to 35 s; once a second costs one walk over the open connections.
 */
const DEADLINE_CHECK_INTERVAL_MS = 1000;

/** Fastify's server options for REQUEST_TIMEOUT, HEADERS_TIMEOUT and KEEP_ALIVE_TIMEOUT. */
export interface HttpTimeoutOptions {
  requestTimeout: number;
  keepAliveTimeout: number;
  http: ServerOptions;
}

/**
 * A client that sends its request too slowly gets 408 and a closed connection before any handler
 * runs; an idle keep-alive connection closes after KEEP_ALIVE_TIMEOUT. (Fastify's own default is
 * no request timeout at all.)
 */
export function httpTimeouts(
  config: Pick<ServiceConfig, 'requestTimeout' | 'headersTimeout' | 'keepAliveTimeout'>,
): HttpTimeoutOptions {
  const requestTimeout = config.requestTimeout * 1000;
  return {
    requestTimeout,
    keepAliveTimeout: config.keepAliveTimeout * 1000,
    // Node checks headersTimeout against requestTimeout when it creates the server: both go here.
    http: {
      requestTimeout,
      headersTimeout: config.headersTimeout * 1000,
      connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
    },
  };
}

const REQUEST_TIMEOUT_BODY = JSON.stringify({
  statusCode: 408,
  error: 'Request Timeout',
  message: 'Request Timeout',
});
const REQUEST_TIMEOUT_RESPONSE =
  'HTTP/1.1 408 Request Timeout\r\n' +
  'Content-Type: application/json; charset=utf-8\r\n' +
  `Content-Length: ${Buffer.byteLength(REQUEST_TIMEOUT_BODY)}\r\n` +
  'Connection: close\r\n\r\n' +
  REQUEST_TIMEOUT_BODY;

/**
 * Node enforces the request and header deadlines with a timer that `server.close()` stops, so
 * during a graceful shutdown a client that sends slowly would hold the drain open until
 * SHUTDOWN_TIMEOUT forces the exit, taking the requests still running with it. This follows the
 * server's connections so the drain can cut off the ones still sending (`cutSenders`).
 */
export class SlowSenders {
  private readonly sockets = new Set<Socket>();
  private readonly responses = new WeakMap<Socket, ServerResponse>();

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.responses.set(request.socket, response);
    });
  }

  /**
   * Answers 408 and closes every connection that is still sending headers or a body; one whose
   * request has arrived whole and is being answered is left alone. Returns how many were cut.
   */
  cutSenders(): number {
    let cut = 0;
    for (const socket of this.sockets) {
      const response = this.responses.get(socket);
      const answering = response !== undefined && !response.writableFinished;
      if (answering && response.req.complete) continue;
      // An answer already under way (Fastify may refuse a body before it has all arrived) is
      // not interrupted by another status line.
      if (socket.writable && !(answering && response.headersSent)) {
        socket.write(REQUEST_TIMEOUT_RESPONSE);
      }
      socket.destroy();
      cut++;
    }
    return cut;
  }
}
