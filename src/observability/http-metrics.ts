import type { FastifyInstance } from 'fastify';
import { Metrics } from './metrics';

/** Route label for requests no route matched (404s for any path), so scanners add one series. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Times every response by the route *pattern* Fastify matched (`/sessions/:sessionId`), so ids
 * and probing paths never become label values.
 */
export function registerHttpMetrics(fastify: FastifyInstance, metrics: Metrics): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? UNMATCHED_ROUTE,
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
