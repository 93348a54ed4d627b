import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import fastify, { FastifyInstance } from 'fastify';
import { echoedPath, reasonPhrase } from '../http/exception.filter';
import { httpTimeouts } from '../http/http-timeouts';
import { ServiceConfig } from '../config';
import { FingerprintAuthMetrics } from './metrics';

/**
 * `/metrics` on a port of its own (METRICS_PORT), so the scrape endpoint can stay inside the
 * cluster while PORT faces clients. Every other path answers 404. Closed with the application,
 * after the main server has drained.
 */
@Injectable()
export class MetricsListener implements OnApplicationShutdown {
  private server?: FastifyInstance;

  constructor(
    private readonly metrics: FingerprintAuthMetrics,
    private readonly config: ServiceConfig,
  ) {}

  /** Listens on METRICS_PORT (METRICS_HOST, else HOST); resolves with the URL, or null when unset. */
  async listen(): Promise<string | null> {
    const port = this.config.metricsPort;
    if (port === undefined) return null;
    const host = this.config.metricsHost ?? this.config.host;
    const server = fastify({
      ...httpTimeouts(this.config),
      return503OnClosing: true,
    });
    server.get('/metrics', async (_request, reply) => {
      const body = await this.metrics.registry.metrics();
      return reply
        .header('content-type', this.metrics.registry.contentType)
        .header('cache-control', 'no-store')
        .send(body);
    });
    server.setNotFoundHandler((request, reply) =>
      reply.code(404).send({
        statusCode: 404,
        error: reasonPhrase(404),
        message: `Cannot ${request.method} ${echoedPath(request.url)}`,
      }),
    );
    this.server = server;
    await server.listen({ port, host });
    new Logger('Metrics').log({
      event: 'metrics_listening',
      url: `http://${host}:${port}/metrics`,
    });
    return `http://${host}:${port}`;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}
