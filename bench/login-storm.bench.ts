import { BenchContext, startBenchApp } from './lib/context';
import { startChild } from './lib/children';
import { pinServer, Pinning } from './lib/cpu-pinning';
import { register, signIn } from './lib/http-client';
import { closedLoop, openLoop, Target, windowPercentiles } from './lib/load';
import { barChart, table, verdict } from './lib/markdown';
import { formatNumber, median, percentile } from './lib/stats';
import type { EventLoopDelay } from './servers/bench-app';
import type { StormRun } from './servers/login-storm-client';

export const STORM_TARGET_RATIO = 2;

interface StormRound {
  readonly stormMs: number;
  readonly loginP50Ms: number;
  readonly loginMaxMs: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** p99 of how late the generator sent the storm window's requests (part of their latency). */
  readonly lagP99Us: number;
  readonly count: number;
  readonly eventLoop: EventLoopDelay;
}

export interface StormResult {
  readonly logins: number;
  readonly rate: number;
  readonly quietP99Us: number;
  readonly quietLagP99Us: number;
  readonly quietEventLoop: EventLoopDelay;
  readonly rounds: StormRound[];
  readonly ratio: number;
  /** Null when the processes could not be pinned (the kernel placed them). */
  readonly pinning: Pick<Pinning, 'serverCpu' | 'clientCpus'> | null;
  readonly markdown: string;
}

/**
 * Part 4: concurrent logins (argon2id on the hashing threads, at the lowest priority) while
 * guarded requests arrive at a fixed rate, the service pinned to a CPU of its own. Each login
 * comes from its own address (X-Forwarded-For, TRUST_PROXY=true) and connection, as a real storm
 * would, so per-address limits do not turn it into a storm of 429s.
 */
export async function loginStorm(
  context: BenchContext,
  options: { audit: boolean } = { audit: true },
): Promise<StormResult> {
  const { settings } = context;
  const app = await startBenchApp(
    context,
    `app (login storm, audit ${options.audit ? 'on' : 'off'})`,
    {
      TRUST_PROXY: 'true',
      AUDIT_TRAIL: options.audit ? 'on' : 'off',
    },
  );
  const client = await startChild('login storm client', 'login-storm-client').catch(
    async (error: unknown) => {
      await app.stop();
      throw error;
    },
  );
  // The service on a core of its own, its hashing threads with it: the storm then shows whether
  // the event loop preempts them, not where the kernel happened to put which thread.
  let pinning: Pinning | null = null;
  try {
    pinning = pinServer(app.process.pid as number, [client.process.pid as number]);
    const user = await signIn(app.url, 'bench-storm-reader@example.com');
    const target: Target = {
      id: 'guarded',
      label: 'guarded route',
      url: app.url,
      path: '/bench/me',
      headers: user.headers,
      body: JSON.stringify({ id: user.userId, sessionId: user.sessionId }),
    };
    context.log(`part 4: registering ${settings.logins} users`);
    const emails = Array.from(
      { length: settings.logins },
      (_, i) => `bench-storm-${i}@example.com`,
    );
    for (let i = 0; i < emails.length; i += 8)
      await Promise.all(emails.slice(i, i + 8).map((email) => register(app.url, email)));

    // The logins come from a process of their own, so the open-loop generator's schedule here is
    // not delayed by them (see bench/servers/login-storm-client.ts).
    const storm = (): Promise<StormRun> =>
      client.call<StormRun>('storm', { url: app.url, emails }, 120_000);
    // A first storm warms argon2 and tells how long one lasts on this machine.
    const warm = await storm();
    const peak = (await closedLoop(target, { durationSec: Math.max(1, settings.durationSec) })).rps;
    const rate = Math.max(50, Math.round(peak * 0.5));
    const stormAtMs = 500;
    const durationMs = Math.max(settings.latencyMs, stormAtMs + warm.ms * 1.5 + 500);

    // Each round measures the same rate twice, without logins and then with the storm, and
    // compares the same window of both (the storm's): a hiccup of the machine's during the
    // quiet run counts as much as one during the storm.
    const quietRounds: Array<{ p99Us: number; lagP99Us: number; eventLoop: EventLoopDelay }> = [];
    const rounds: StormRound[] = [];
    for (let round = 0; round < settings.stormRounds; round++) {
      await app.call('watchEventLoop');
      const quiet = await openLoop(target, { rate, durationMs, warmupMs: 300 });
      const quietEventLoop = await app.call<EventLoopDelay>('eventLoopDelay');
      if (quiet.errors > 0) throw new Error(`${quiet.errors} guarded requests failed`);

      let running: Promise<StormRun> | null = null;
      let calledAtMs = 0;
      await app.call('watchEventLoop');
      const loaded = await openLoop(target, {
        rate,
        durationMs,
        warmupMs: 300,
        at: {
          ms: stormAtMs,
          run: () => {
            calledAtMs = Date.now();
            running = storm();
          },
        },
      });
      const eventLoop = await app.call<EventLoopDelay>('eventLoopDelay');
      if (running === null) throw new Error('the storm never started');
      const done = await (running as Promise<StormRun>);
      if (loaded.errors > 0)
        throw new Error(`${loaded.errors} guarded requests failed during the storm`);
      // The window of requests due while the logins ran, on the open loop's time base (the
      // child started them a moment after it was asked, at stormAtMs).
      const from = stormAtMs + Math.max(0, done.startedAtMs - calledAtMs);
      const during = windowPercentiles(loaded.samples, from, from + done.ms);
      const quietWindow = windowPercentiles(quiet.samples, from, from + done.ms);
      quietRounds.push({
        p99Us: quietWindow.p99,
        lagP99Us: quietWindow.lagP99,
        eventLoop: quietEventLoop,
      });
      const sorted = Float64Array.from(done.latencies).sort();
      rounds.push({
        stormMs: done.ms,
        loginP50Ms: percentile(sorted, 50),
        loginMaxMs: sorted[sorted.length - 1],
        p99Us: during.p99,
        maxUs: during.max,
        lagP99Us: during.lagP99,
        count: during.count,
        eventLoop,
      });
      context.log(`part 4: storm ${round + 1}/${settings.stormRounds} done`);
    }
    const stormP99 = median(rounds.map((r) => r.p99Us));
    const quietP99 = median(quietRounds.map((r) => r.p99Us));
    const result = {
      logins: settings.logins,
      rate,
      quietP99Us: quietP99,
      quietLagP99Us: median(quietRounds.map((r) => r.lagP99Us)),
      quietEventLoop: {
        max: median(quietRounds.map((r) => r.eventLoop.max)),
        p99: median(quietRounds.map((r) => r.eventLoop.p99)),
        mean: median(quietRounds.map((r) => r.eventLoop.mean)),
        samples: median(quietRounds.map((r) => r.eventLoop.samples)),
      },
      rounds,
      ratio: stormP99 / quietP99,
      pinning: pinning && { serverCpu: pinning.serverCpu, clientCpus: pinning.clientCpus },
    };
    return { ...result, markdown: render(result, settings.stormRounds, options.audit) };
  } finally {
    pinning?.restore();
    await Promise.all([app.stop(), client.stop()]);
  }
}

function render(
  result: Omit<StormResult, 'markdown'>,
  roundsWanted: number,
  audit: boolean,
): string {
  const { rounds } = result;
  const med = (pick: (round: StormRound) => number) => median(rounds.map(pick));
  const out: string[] = [];
  out.push(audit ? '## 4. Login storm' : '### The same storm with the audit trail off');
  out.push('');
  out.push(
    `${audit ? 'With the audit trail on (the default: every login queued and written in batches to the users database, SQLite in memory here). ' : 'AUDIT_TRAIL=off: nothing recorded but the log. '}` +
      `${result.logins} logins at once (argon2id, 19 MiB, t=2, on one hashing thread per core at the lowest priority, SCHED_IDLE) while guarded requests arrive at ` +
      `${formatNumber(result.rate)}/s (50% of the measured peak). Guarded latency of the requests due while the storm lasted, ` +
      `against the same window of a run at the same rate without logins just before; medians of ${roundsWanted} round(s). ` +
      (result.pinning
        ? `The service (event loop and hashing threads alike) runs on CPU ${result.pinning.serverCpu} alone, the load generator and the logins' client on CPU ${result.pinning.clientCpus} (\`taskset\`), so the hashing competes with the event loop for its one core.`
        : 'Not pinned to CPUs (no `taskset` here): the kernel placed every thread.'),
  );
  out.push('');
  out.push(
    table(
      ['measure', 'quiet', 'during the storm', 'target', 'result'],
      [
        [
          'guarded p99',
          `${formatNumber(result.quietP99Us)} µs`,
          `${formatNumber(med((r) => r.p99Us))} µs (${formatNumber(result.ratio)}x)`,
          `≤ ${STORM_TARGET_RATIO}x quiet`,
          verdict(result.ratio <= STORM_TARGET_RATIO),
        ],
        ['guarded max', '', `${formatNumber(med((r) => r.maxUs))} µs`, '', ''],
        [
          'sent late p99 (the generator behind its schedule, part of the latency)',
          `${formatNumber(result.quietLagP99Us)} µs`,
          `${formatNumber(med((r) => r.lagP99Us))} µs`,
          '',
          '',
        ],
        [
          'event-loop delay, max',
          `${formatNumber(result.quietEventLoop.max)} ms`,
          `${formatNumber(med((r) => r.eventLoop.max))} ms`,
          '',
          '',
        ],
        [
          'event-loop delay, p99',
          `${formatNumber(result.quietEventLoop.p99)} ms`,
          `${formatNumber(med((r) => r.eventLoop.p99))} ms`,
          '',
          '',
        ],
        ['storm duration', '', `${formatNumber(med((r) => r.stormMs))} ms`, '', ''],
        [
          'login latency p50 / max',
          '',
          `${formatNumber(med((r) => r.loginP50Ms))} / ${formatNumber(med((r) => r.loginMaxMs))} ms`,
          '',
          '',
        ],
      ],
    ),
  );
  if (!audit) return out.join('\n');
  out.push('');
  out.push(
    barChart({
      title: 'Guarded p99 (µs): quiet vs login storm',
      labels: ['quiet', 'storm', '2x quiet (target)'],
      yLabel: 'µs',
      values: [result.quietP99Us, med((r) => r.p99Us), result.quietP99Us * STORM_TARGET_RATIO],
    }),
  );
  return out.join('\n');
}
