import { connect } from 'node:net';
import { USER_AGENT } from '../lib/context';
import { PASSWORD } from '../lib/http-client';
import { parseResponse } from '../lib/load';
import { childConfig, reportFailure, reportReady, serveCommands } from '../lib/child-side';

/** What one storm took: when it started (epoch ms, the parent's clock too), how long, each login. */
export interface StormRun {
  readonly startedAtMs: number;
  readonly ms: number;
  readonly latencies: number[];
}

/** `POST /auth/login` for one email, from its own address (the app runs with TRUST_PROXY=true). */
function loginRequest(host: string, email: string, i: number): Buffer {
  const body = JSON.stringify({ email, password: PASSWORD });
  return Buffer.from(
    `POST /auth/login HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nuser-agent: ${USER_AGENT}\r\n` +
      `x-forwarded-for: 198.51.100.${(i % 250) + 1}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** One login on a connection of its own, as a new client makes it; resolves with its ms. */
function loginOnce(hostname: string, port: number, request: Buffer): Promise<number> {
  const sent = performance.now();
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    const socket = connect({ host: hostname, port, noDelay: true }, () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      const parsed = parseResponse(buffer);
      if (parsed === null) return;
      socket.destroy();
      if (parsed.status === 200) resolve(performance.now() - sent);
      else reject(new Error(`login answered ${parsed.status}: ${buffer.toString('utf8', 0, 300)}`));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('login connection closed before an answer')));
  });
}

/**
 * The login storm's client, in a process of its own: the parent process is the open-loop load
 * generator, whose schedule 50 logins' worth of connections, requests and JSON would otherwise
 * delay, charging the guarded requests for the generator's own lateness. It shares the
 * generator's CPU (bench/lib/cpu-pinning.ts), so it costs as little as it can: the requests are
 * built before the storm, sent on raw sockets (one new connection per login, as many clients
 * would make them), and only the status line of each answer is read. No server: it reports ready
 * on the port it was given without listening, and serves `storm` over IPC.
 */
function main(): void {
  const { port } = childConfig<{ port: number }>();
  serveCommands(
    {
      storm: async (args): Promise<StormRun> => {
        const { url, emails } = args as { url: string; emails: string[] };
        const { hostname, host, port: appPort } = new URL(url);
        const requests = emails.map((email, i) => loginRequest(host, email, i));
        const startedAtMs = Date.now();
        const started = performance.now();
        const latencies = await Promise.all(
          requests.map((request) => loginOnce(hostname, Number(appPort), request)),
        );
        return { startedAtMs, ms: performance.now() - started, latencies };
      },
    },
    async () => {},
  );
  reportReady(port);
}

try {
  main();
} catch (error) {
  reportFailure(error);
}
