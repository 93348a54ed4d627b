import { createServer } from 'node:http';
import { childConfig, reportFailure, reportReady, serveCommands } from '../lib/child-side';

/** Baseline B: plain `node:http` answering the same body: the floor of any Node.js server. */
const { port, body } = childConfig<{ port: number; body: unknown }>();
const payload = Buffer.from(JSON.stringify(body));

const server = createServer((_request, response) => {
  // With a length, as Fastify sends it (without one, node:http would answer chunked).
  response.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': payload.length,
  });
  response.end(payload);
});
server.once('error', reportFailure);
server.listen(port, '127.0.0.1', () => {
  serveCommands({}, () => new Promise<void>((resolve) => server.close(() => resolve())));
  reportReady(port);
});
