import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import fastify, { FastifyInstance } from 'fastify';
import { echoedPath, reasonPhrase } from '../common/exception.filter';
import { httpTimeouts } from '../common/http-timeouts';
import { Env } from '../config';
import { Metrics } from './metrics';

/**
 * `/metrics` on a port of its own (METRICS_PORT), so the scrape endpoint can stay inside the
 * cluster while PORT faces clients. Every other path answers 404. Closed with the application,
 * after the main server has drained.
 */
@Injectable()
export class MetricsListener implements OnApplicationShutdown {
  private server?: FastifyInstance;

  constructor(
    private readonly metrics: Metrics,
    private readonly config: ConfigService<Env, true>,
  ) {}

  /** Listens on METRICS_PORT (METRICS_HOST, else HOST); resolves with the URL, or null when unset. */
  async listen(): Promise<string | null> {
    const port = this.config.get('METRICS_PORT', { infer: true });
    if (port === undefined) return null;
    const host =
      this.config.get('METRICS_HOST', { infer: true }) ?? this.config.get('HOST', { infer: true });
    const server = fastify({
      ...httpTimeouts({
        REQUEST_TIMEOUT: this.config.get('REQUEST_TIMEOUT', { infer: true }),
        HEADERS_TIMEOUT: this.config.get('HEADERS_TIMEOUT', { infer: true }),
        KEEP_ALIVE_TIMEOUT: this.config.get('KEEP_ALIVE_TIMEOUT', { infer: true }),
      }),
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
