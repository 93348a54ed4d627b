import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Route label for requests no route matched (404s for any path), so scanners add one series. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The service's own metrics, in the library's registry beside its counters: process metrics
 * under their usual names (nodejs_eventloop_lag_seconds, nodejs_heap_*, process_*) and every
 * response timed by the route *pattern* Fastify matched (`/sessions/:sessionId`), so ids and
 * probing paths never become label values.
 */
export function registerHttpMetrics(fastify: FastifyInstance, registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'fpa_http_request_duration_seconds',
    help: 'HTTP request durations by method, route pattern and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    duration.observe(
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
