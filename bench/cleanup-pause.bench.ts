import { BenchContext, startBenchApp } from './lib/context';
import { signIn } from './lib/http-client';
import { closedLoop, openLoop, Target, windowPercentiles } from './lib/load';
import { barChart, table, verdict } from './lib/markdown';
import { formatNumber, median } from './lib/stats';
import type { EventLoopDelay } from './servers/bench-app';

export const MAX_DELAY_TARGET_MS = 20;
/** Past enough that a session created then is expired now: idle (30 min) and absolute (8 h). */
const EXPIRED_AGO_SECONDS = 9 * 3600;

interface SweepRound {
  readonly removed: number;
  readonly durationMs: number;
  /** Event-loop delay while the sweep ran. */
  readonly eventLoop: EventLoopDelay;
  /** Event-loop delay over the whole loaded run around it (GC after the sweep included). */
  readonly runEventLoop: EventLoopDelay;
  readonly duringP99Us: number;
  readonly duringMaxUs: number;
  readonly duringCount: number;
  readonly runP99Us: number;
}

export interface CleanupResult {
  readonly stored: number;
  readonly expired: number;
  readonly rate: number;
  readonly quietP99Us: number;
  readonly quietEventLoop: EventLoopDelay;
  readonly rounds: SweepRound[];
  readonly markdown: string;
}

/**
 * Part 3: a server holding the configured number of sessions, a tenth of them expired (created
 * through the app's clock set hours back), runs the real `SessionCleanupJob.run()` while guarded
 * requests arrive at a fixed rate. The server watches its own event loop.
 */
export async function cleanupPause(context: BenchContext): Promise<CleanupResult> {
  const { settings } = context;
  const app = await startBenchApp(context, 'app (cleanup)');
  try {
    const user = await signIn(app.url, 'bench-cleanup@example.com');
    const target: Target = {
      id: 'guarded',
      label: 'guarded route',
      url: app.url,
      path: '/bench/me',
      headers: user.headers,
      body: JSON.stringify({ id: user.userId, sessionId: user.sessionId }),
    };
    const live = settings.cleanupSessions - settings.cleanupExpired;
    context.log(`part 3: storing ${live.toLocaleString('en-US')} live sessions`);
    await app.call('populate', { count: live, perUser: 10 });

    const peak = (await closedLoop(target, { durationSec: Math.max(1, settings.durationSec) })).rps;
    const rate = Math.max(50, Math.round(peak * 0.5));
    const durationMs = context.mode === 'quick' ? 1500 : Math.max(3000, settings.latencyMs);

    await app.call('watchEventLoop');
    const quiet = await openLoop(target, { rate, durationMs, warmupMs: 500 });
    const quietEventLoop = await app.call<EventLoopDelay>('eventLoopDelay');

    const rounds: SweepRound[] = [];
    for (let round = 0; round < settings.cleanupRounds; round++) {
      context.log(
        `part 3: round ${round + 1}: storing ${settings.cleanupExpired.toLocaleString('en-US')} expired sessions`,
      );
      await app.call('populate', {
        count: settings.cleanupExpired,
        perUser: 10,
        agoSeconds: EXPIRED_AGO_SECONDS,
      });
      // Expired sessions are filed in the bucket the sweep reads next; it comes due within 10 s.
      await app.call('advanceClock', { seconds: 11 });
      const stats = await app.call<{ stored: number; expired: number }>('stats');
      if (stats.stored < settings.cleanupSessions)
        throw new Error(`store holds ${stats.stored} sessions`);

      const sweepAtMs = durationMs * 0.3;
      let sweep: Promise<{
        removed: number;
        durationMs: number;
        eventLoop: EventLoopDelay;
      }> | null = null;
      await app.call('watchEventLoop');
      const loaded = await openLoop(target, {
        rate,
        durationMs,
        warmupMs: 500,
        at: { ms: sweepAtMs, run: () => (sweep = app.call('sweep')) },
      });
      const runEventLoop = await app.call<EventLoopDelay>('eventLoopDelay');
      if (sweep === null) throw new Error('the sweep never started');
      const swept = await (sweep as Promise<{
        removed: number;
        durationMs: number;
        eventLoop: EventLoopDelay;
      }>);
      if (swept.removed !== settings.cleanupExpired) {
        throw new Error(`the sweep removed ${swept.removed}, expected ${settings.cleanupExpired}`);
      }
      if (loaded.errors > 0)
        throw new Error(`${loaded.errors} guarded requests failed during the sweep`);
      // Requests due while the sweep ran, plus 50 ms for the ones it delayed.
      const during = windowPercentiles(
        loaded.samples,
        sweepAtMs,
        sweepAtMs + swept.durationMs + 50,
      );
      rounds.push({
        removed: swept.removed,
        durationMs: swept.durationMs,
        eventLoop: swept.eventLoop,
        runEventLoop,
        duringP99Us: during.p99,
        duringMaxUs: during.max,
        duringCount: during.count,
        runP99Us: loaded.p99,
      });
    }
    const result = {
      stored: settings.cleanupSessions,
      expired: settings.cleanupExpired,
      rate,
      quietP99Us: quiet.p99,
      quietEventLoop,
      rounds,
    };
    return { ...result, markdown: render(result, settings.cleanupRounds) };
  } finally {
    await app.stop();
  }
}

function render(result: Omit<CleanupResult, 'markdown'>, roundsWanted: number): string {
  const { rounds } = result;
  const maxDelay = median(rounds.map((r) => r.eventLoop.max));
  const out: string[] = [];
  out.push('## 3. Cleanup pause');
  out.push('');
  out.push(
    `${result.stored.toLocaleString('en-US')} sessions in one server process, ${result.expired.toLocaleString('en-US')} of them expired ` +
      "(created through the app's clock set 9 h back). The real `SessionCleanupJob.run()` sweeps them (batches of " +
      '`CLEANUP_BATCH_SIZE`, default 2000, yielding between batches) while guarded requests arrive at ' +
      `${formatNumber(result.rate)}/s (50% of the peak measured with the sessions loaded). Event-loop delay from ` +
      '`monitorEventLoopDelay` (1 ms resolution) in the server. Median of ' +
      `${roundsWanted} round(s); each round stores a fresh set of expired sessions.`,
  );
  out.push('');
  out.push(
    table(
      ['measure', 'value', 'target', 'result'],
      [
        [
          'max event-loop delay during the sweep',
          rounds.every((r) => r.eventLoop.samples > 0)
            ? `${formatNumber(maxDelay)} ms`
            : `${formatNumber(maxDelay)} ms (a sweep too short for a 1 ms sample)`,
          `≤ ${MAX_DELAY_TARGET_MS} ms`,
          verdict(maxDelay <= MAX_DELAY_TARGET_MS),
        ],
        [
          'p99 event-loop delay during the sweep',
          `${formatNumber(median(rounds.map((r) => r.eventLoop.p99)))} ms`,
          '',
          '',
        ],
        [
          'max event-loop delay over the whole run (incl. GC after the sweep)',
          `${formatNumber(median(rounds.map((r) => r.runEventLoop.max)))} ms`,
          '',
          '',
        ],
        [
          'max event-loop delay, same load without a sweep',
          `${formatNumber(result.quietEventLoop.max)} ms`,
          '',
          '',
        ],
        ['sweep duration', `${formatNumber(median(rounds.map((r) => r.durationMs)))} ms`, '', ''],
        [
          'sessions removed per sweep',
          rounds.map((r) => r.removed.toLocaleString('en-US')).join(', '),
          `${result.expired.toLocaleString('en-US')}`,
          verdict(rounds.every((r) => r.removed === result.expired)),
        ],
        ['guarded p99, no sweep', `${formatNumber(result.quietP99Us)} µs`, '', ''],
        [
          'guarded p99 / max, requests due during the sweep',
          `${formatNumber(median(rounds.map((r) => r.duringP99Us)))} / ${formatNumber(median(rounds.map((r) => r.duringMaxUs)))} µs (${formatNumber(median(rounds.map((r) => r.duringCount)))} requests)`,
          '',
          '',
        ],
        [
          'guarded p99, whole run with the sweep',
          `${formatNumber(median(rounds.map((r) => r.runP99Us)))} µs`,
          '',
          '',
        ],
      ],
    ),
  );
  out.push('');
  out.push(
    barChart({
      title: 'Event-loop delay, max (ms; target line: 20)',
      labels: ['no sweep', 'during sweep', 'whole run'],
      yLabel: 'ms',
      values: [result.quietEventLoop.max, maxDelay, median(rounds.map((r) => r.runEventLoop.max))],
      line: [MAX_DELAY_TARGET_MS, MAX_DELAY_TARGET_MS, MAX_DELAY_TARGET_MS],
    }),
  );
  return out.join('\n');
}
