import 'reflect-metadata';
import { monitorEventLoopDelay, IntervalHistogram } from 'node:perf_hooks';
import { createApp } from '../../src/http/bootstrap';
import { validateEnv } from '../../src/config';
import { SessionCleanupJob } from '../../src/sessions/session-cleanup.job';
import { SessionRepository } from '../../src/sessions/session.repository';
import { childConfig, reportFailure, reportReady, serveCommands } from '../lib/child-side';
import { OffsetClock } from '../lib/offset-clock';
import { SessionFixtures } from '../lib/session-fixtures';
import { BenchModule } from './bench.module';

/**
 * The service plus the bench routes, in its own process. The parent drives it over HTTP (the
 * measured traffic) and over IPC (populate the store, move the clock, run the sweep, watch the
 * event loop).
 */
interface Config {
  port: number;
  env: Record<string, string>;
}

export interface EventLoopDelay {
  /** Milliseconds. */
  readonly max: number;
  readonly p99: number;
  readonly mean: number;
  /** Samples taken (one per ms the loop was free to take one); 0 when it never got to. */
  readonly samples: number;
}

const summary = (histogram: IntervalHistogram): EventLoopDelay => ({
  max: histogram.count > 0 ? histogram.max / 1e6 : 0,
  p99: histogram.count > 0 ? histogram.percentile(99) / 1e6 : 0,
  mean: histogram.count > 0 ? histogram.mean / 1e6 : 0,
  samples: histogram.count,
});

async function main(): Promise<void> {
  const config = childConfig<Config>();
  const clock = new OffsetClock();
  const env = validateEnv(config.env);
  // Logs at LOG_LEVEL (warn in bench apps): a failed start says why before Nest exits.
  const app = await createApp(env, { module: BenchModule.forRoot(env, { clock }) });
  await app.listen({ port: config.port, host: '127.0.0.1' });

  const sessions = app.get(SessionRepository);
  const cleanup = app.get(SessionCleanupJob);
  let delay: IntervalHistogram | null = null;

  serveCommands(
    {
      /** Stores `count` sessions directly (no HTTP), `perUser` per user, `agoSeconds` in the past. */
      populate: async (args) => {
        const {
          count,
          perUser,
          agoSeconds = 0,
        } = args as {
          count: number;
          perUser: number;
          agoSeconds?: number;
        };
        const fixtures = new SessionFixtures(perUser);
        const saved = clock.offsetMs;
        clock.offsetMs -= agoSeconds * 1000;
        const started = performance.now();
        try {
          for (let i = 0; i < count; i++) await sessions.create(fixtures.next());
        } finally {
          clock.offsetMs = saved;
        }
        return { created: count, ms: performance.now() - started };
      },
      advanceClock: (args) => {
        clock.offsetMs += (args as { seconds: number }).seconds * 1000;
        return clock.offsetMs;
      },
      watchEventLoop: () => {
        delay?.disable();
        delay = monitorEventLoopDelay({ resolution: 1 });
        delay.enable();
        return true;
      },
      eventLoopDelay: () => {
        if (!delay) throw new Error('watchEventLoop first');
        delay.disable();
        const result = summary(delay);
        delay = null;
        return result;
      },
      /** The real cleanup job's sweep, with the event loop watched while it runs. */
      sweep: async () => {
        const histogram = monitorEventLoopDelay({ resolution: 1 });
        histogram.enable();
        const started = performance.now();
        const removed = await cleanup.run();
        const durationMs = performance.now() - started;
        // Let the sampling timer fire once more: a block at the very end shows only then.
        await new Promise((resolve) => setTimeout(resolve, 5));
        histogram.disable();
        return { removed, durationMs, eventLoop: summary(histogram) };
      },
      /** A full GC, then the heap in use (the soak's heap comparison; the app runs with --expose-gc). */
      gc: () => {
        if (!global.gc) throw new Error('start the app with --expose-gc');
        global.gc();
        return process.memoryUsage().heapUsed;
      },
      stats: async () => ({
        ...(await sessions.stats()),
        heapUsed: process.memoryUsage().heapUsed,
        rss: process.memoryUsage().rss,
      }),
    },
    () => app.close(),
  );
  reportReady(config.port, { sessionStore: env.sessionStore });
}

main().catch(reportFailure);
