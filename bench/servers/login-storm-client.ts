import { login } from '../lib/http-client';
import { childConfig, reportFailure, reportReady, serveCommands } from '../lib/child-side';

/** What one storm took: when it started (epoch ms, the parent's clock too), how long, each login. */
export interface StormRun {
  readonly startedAtMs: number;
  readonly ms: number;
  readonly latencies: number[];
}

/**
 * The login storm's client, in a process of its own: the parent process is the open-loop load
 * generator, whose schedule 50 logins' worth of connections, requests and JSON would otherwise
 * delay, charging the guarded requests for the generator's own lateness. No server: it reports
 * ready on the port it was given without listening, and serves `storm` over IPC.
 */
function main(): void {
  const { port } = childConfig<{ port: number }>();
  serveCommands(
    {
      storm: async (args): Promise<StormRun> => {
        const { url, emails } = args as { url: string; emails: string[] };
        const startedAtMs = Date.now();
        const started = performance.now();
        const latencies = await Promise.all(
          emails.map(async (email, i) => {
            const sent = performance.now();
            // Each login from its own address (the app runs with TRUST_PROXY=true).
            await login(url, email, { 'x-forwarded-for': `198.51.100.${(i % 250) + 1}` });
            return performance.now() - sent;
          }),
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
