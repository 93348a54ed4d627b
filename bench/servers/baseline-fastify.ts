import Fastify from 'fastify';
import { childConfig, reportFailure, reportReady, serveCommands } from '../lib/child-side';

/** Baseline B: raw Fastify answering the same body (no Nest, no plugins, no guard). */
const { port, body } = childConfig<{ port: number; body: unknown }>();

async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  app.get('/bench/public', async () => body);
  await app.listen({ port, host: '127.0.0.1' });
  serveCommands({}, () => app.close());
  reportReady(port);
}

main().catch(reportFailure);
