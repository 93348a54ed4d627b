import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchContext, startRedisApp } from './lib/context';
import { get, login, register } from './lib/http-client';
import { barChart, table, verdict } from './lib/markdown';
import { formatNumber, median, percentile } from './lib/stats';

export const REVOCATION_TARGET_MS = 100;
/** Give up on one trial after this long: the other instance never rejected. */
const GIVE_UP_MS = 5000;

export type RevocationResult =
  | { readonly available: false; readonly reason: string; readonly markdown: string }
  | {
      readonly available: true;
      readonly trials: number;
      readonly latenciesMs: number[];
      readonly maxMs: number;
      readonly markdown: string;
    };

/**
 * Part 5 (Redis mode): two instances share one Redis. A session is revoked with `DELETE
 * /sessions/:id` on instance A while instance B is polled with the same token and cookie; the
 * latency runs from sending the DELETE until B first answers 401.
 */
export async function revocationLatency(context: BenchContext): Promise<RevocationResult> {
  // Instances that share sessions share users too (the guard refuses a session whose user it
  // cannot find): one SQLite file for both, in WAL mode, as two processes on one host would.
  const dir = mkdtempSync(join(tmpdir(), 'fpa-bench-revocation-'));
  const shared = { DATABASE_URL: `sqlite:${join(dir, 'users.db')}` };
  // One after the other: the first creates the file's tables.
  const a = await startRedisApp(context, 'app A (redis)', shared);
  const b = await startRedisApp(context, 'app B (redis)', shared);
  if (!a.available || !b.available) {
    await Promise.all([a, b].map((app) => (app.available ? app.app.stop() : undefined)));
    rmSync(dir, { recursive: true, force: true });
    const reason = !a.available ? a.reason : (b as { reason: string }).reason;
    return { available: false, reason, markdown: render(null, reason) };
  }
  try {
    const email = 'bench-revocation@example.com';
    await register(a.app.url, email);
    const latencies: number[] = [];
    for (let trial = 0; trial < context.settings.revocationTrials; trial++) {
      const session = await login(a.app.url, email);
      const before = await get(`${b.app.url}/bench/me`, session.headers);
      if (before.status !== 200)
        throw new Error(`instance B does not know A's session: ${before.status} ${before.body}`);

      const sent = performance.now();
      const revoked = fetch(`${a.app.url}/sessions/${session.sessionId}`, {
        method: 'DELETE',
        headers: session.headers,
      });
      let rejectedAt: number | null = null;
      while (performance.now() - sent < GIVE_UP_MS) {
        const answer = await get(`${b.app.url}/bench/me`, session.headers);
        if (answer.status === 401) {
          rejectedAt = performance.now();
          break;
        }
        if (answer.status !== 200)
          throw new Error(`instance B answered ${answer.status} ${answer.body}`);
      }
      const deleted = await revoked;
      if (deleted.status !== 204)
        throw new Error(`DELETE on instance A answered ${deleted.status}`);
      if (rejectedAt === null)
        throw new Error(`instance B still accepted the session ${GIVE_UP_MS} ms after the DELETE`);
      latencies.push(rejectedAt - sent);
    }
    const maxMs = Math.max(...latencies);
    const result = { trials: latencies.length, latenciesMs: latencies, maxMs };
    return { available: true, ...result, markdown: render(result, null) };
  } finally {
    await Promise.all([a.app.stop(), b.app.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function render(
  result: { trials: number; latenciesMs: number[]; maxMs: number } | null,
  reason: string | null,
): string {
  const out: string[] = ['## 5. Revocation latency across instances (Redis mode)', ''];
  if (result === null) {
    out.push(
      `Not measured: Redis mode ${reason}. The script starts two instances with \`SESSION_STORE=redis\` and runs as soon as the build has the Redis store.`,
    );
    return out.join('\n');
  }
  const sorted = Float64Array.from(result.latenciesMs).sort();
  out.push(
    `Two instances on one Redis. For each of ${result.trials} sessions: \`DELETE /sessions/:id\` on instance A while instance B is polled ` +
      'back to back with the same token and cookie; latency from sending the DELETE until B first answers 401 ' +
      '(it includes the DELETE itself and one poll interval).',
  );
  out.push('');
  out.push(
    table(
      ['measure', 'value', 'target', 'result'],
      [
        ['median', `${formatNumber(median(result.latenciesMs))} ms`, '', ''],
        ['p95', `${formatNumber(percentile(sorted, 95))} ms`, '', ''],
        [
          'max',
          `${formatNumber(result.maxMs)} ms`,
          `≤ ${REVOCATION_TARGET_MS} ms`,
          verdict(result.maxMs <= REVOCATION_TARGET_MS),
        ],
      ],
    ),
  );
  out.push('');
  out.push(
    barChart({
      title: 'Revocation latency per trial (ms; target line: 100)',
      labels: result.latenciesMs.map((_, i) => String(i + 1)),
      yLabel: 'ms',
      values: result.latenciesMs,
      line: result.latenciesMs.map(() => REVOCATION_TARGET_MS),
    }),
  );
  return out.join('\n');
}
