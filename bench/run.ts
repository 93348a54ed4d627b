import { join } from 'node:path';
import { contextFromEnvironment, Mode } from './lib/context';
import { machineInfo, machineTable } from './lib/machine';
import { table, writeGenerated } from './lib/markdown';
import { removeRedisKeys } from './lib/redis-cleanup';
import { compileForChildren } from './lib/compile';
import { guardGoals, guardThroughput, judgeGoal } from './guard-throughput.bench';
import { sessionStore, STORE_TARGET_BYTES } from './session-store.report';
import { storeComparison } from './store-comparison.bench';
import { cleanupPause, MAX_DELAY_TARGET_MS } from './cleanup-pause.bench';
import { loginStorm, STORM_TARGET_RATIO } from './login-storm.bench';
import { revocationLatency, REVOCATION_TARGET_MS } from './revocation.bench';
import { cpuProfiles } from './cpu-profile.bench';
import { fuzzSuites } from './fuzz.bench';
import { redisWait } from './redis-wait.bench';
import { QUICK_SOAK_SEC, quickSoak } from './soak.bench';
import { median } from './lib/stats';

/**
 * `npm run bench` (full) and `npm run bench:quick` (checks the scripts in a few minutes: all but the
 * soak in under one, the soak a minute per mode; the soak for the record is `npm run soak`).
 * Runs every part, prints the tables and writes them into BENCHMARKS.md between the generated
 * markers; the hand-written analysis around them is kept.
 *
 * Options: --quick, --only=guard,store,stores,cleanup,storm,revocation,profile,fuzz,wait,soak
 * (prints, writes nothing unless --write), --output=<file>. Environment: BENCH_REDIS_URL (or
 * REDIS_URL_TEST) for the Redis-mode parts; BENCH_APP_<NAME>=value adds NAME=value to every bench
 * app's environment; FUZZ_SEED replays the inputs of an earlier fuzz part.
 */
const PARTS = [
  'guard',
  'store',
  'stores',
  'cleanup',
  'storm',
  'revocation',
  'profile',
  'fuzz',
  'wait',
  'soak',
] as const;
type Part = (typeof PARTS)[number];

interface Summary {
  readonly what: string;
  readonly target: string;
  readonly measured: string;
  readonly result: string;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const mode: Mode = args.includes('--quick') ? 'quick' : 'full';
  const onlyArg = args.find((arg) => arg.startsWith('--only='));
  const only = onlyArg ? (onlyArg.slice('--only='.length).split(',') as Part[]) : null;
  const unknown = only?.filter((part) => !PARTS.includes(part));
  if (unknown?.length)
    throw new Error(`unknown part(s): ${unknown.join(', ')} (parts: ${PARTS.join(', ')})`);
  const write = only === null || args.includes('--write');
  const output =
    args.find((arg) => arg.startsWith('--output='))?.slice('--output='.length) ??
    join(__dirname, '..', 'BENCHMARKS.md');
  const partStarted = Date.now();
  const wanted = (part: Part) => {
    const yes = only === null || only.includes(part);
    if (yes)
      console.error(`[bench] ${part} (${((Date.now() - partStarted) / 1000).toFixed(0)} s in)`);
    return yes;
  };

  const context = await contextFromEnvironment(mode);
  const { redisUrl } = context;
  const machine = machineInfo();
  const started = Date.now();
  const sections: string[] = [];
  const summary: Summary[] = [];

  context.log('compiling src/ and bench/ for the child processes');
  compileForChildren();

  try {
    if (wanted('guard')) {
      const result = await guardThroughput(context);
      sections.push(result.markdown);
      summary.push(
        ...guardGoals(result.ratios).map((goal) => ({ what: goal.what, ...judgeGoal(goal) })),
      );
    }
    if (wanted('store')) {
      const { result, markdown } = await sessionStore(context);
      sections.push(markdown);
      summary.push({
        what: `heap per session, ${result.sessions.toLocaleString('en-US')} sessions`,
        target: `≤ ${STORE_TARGET_BYTES} B`,
        measured: `${Math.round(result.bytesPerSession)} B`,
        result:
          result.sessions < 1_000_000
            ? 'not judged (quick mode)'
            : result.bytesPerSession <= STORE_TARGET_BYTES
              ? '**met**'
              : '**missed**',
      });
    }
    if (wanted('stores')) {
      sections.push((await storeComparison(context)).markdown);
    }
    if (wanted('cleanup')) {
      const result = await cleanupPause(context);
      sections.push(result.markdown);
      const maxDelay = median(result.rounds.map((round) => round.eventLoop.max));
      summary.push({
        what: `event-loop delay while sweeping ${result.expired.toLocaleString('en-US')} of ${result.stored.toLocaleString('en-US')} sessions`,
        target: `max ≤ ${MAX_DELAY_TARGET_MS} ms`,
        measured: `${maxDelay.toFixed(1)} ms`,
        result: maxDelay <= MAX_DELAY_TARGET_MS ? '**met**' : '**missed**',
      });
    }
    if (wanted('storm')) {
      const result = await loginStorm(context);
      const off = await loginStorm(context, { audit: false });
      sections.push(result.markdown, off.markdown);
      const stormMs = (r: typeof result) => median(r.rounds.map((round) => round.stormMs));
      summary.push({
        what: `${result.logins}-login storm, audit trail on vs off (storm duration)`,
        target: 'no worse than off (±10%)',
        measured: `${formatMs(stormMs(result))} vs ${formatMs(stormMs(off))} ms`,
        result: stormMs(result) <= stormMs(off) * 1.1 ? '**met**' : '**missed**',
      });
      summary.push({
        what: `guarded p99 during ${result.logins} concurrent logins`,
        target: `≤ ${STORM_TARGET_RATIO}x quiet`,
        measured: `${result.ratio.toFixed(1)}x`,
        result: result.ratio <= STORM_TARGET_RATIO ? '**met**' : '**missed**',
      });
    }
    if (wanted('revocation')) {
      const result = await revocationLatency(context);
      sections.push(result.markdown);
      summary.push({
        what: 'revocation seen by a second instance (Redis mode)',
        target: `≤ ${REVOCATION_TARGET_MS} ms`,
        ...(result.available
          ? {
              measured: `max ${result.maxMs.toFixed(0)} ms`,
              result: result.maxMs <= REVOCATION_TARGET_MS ? '**met**' : '**missed**',
            }
          : { measured: 'not available in this build', result: 'not measured' }),
      });
    }
    if (wanted('wait')) {
      sections.push((await redisWait(context)).markdown);
    }
    if (wanted('profile')) {
      sections.push(
        context.settings.profileSec > 0
          ? (await cpuProfiles(context)).markdown
          : '## CPU profiles\n\nNot taken in quick mode: `npm run bench` profiles the guarded route and baseline A.',
      );
    }
    if (wanted('fuzz')) {
      const result = await fuzzSuites(context);
      sections.push(result.markdown);
      summary.push(...result.summary);
    }
    if (wanted('soak')) {
      // The soak for the record is `npm run soak` (30 min a mode); bench:quick runs a short one.
      if (mode === 'quick') {
        const result = await quickSoak(context);
        sections.push(result.markdown);
        summary.push({
          what: `soak, ${QUICK_SOAK_SEC / 60} min a mode: failed requests and 5xx`,
          target: '0',
          measured: result.modes
            .map((m) =>
              m.available ? `${m.mode} ${m.failed} / ${m.fiveXx}` : `${m.mode} not measured`,
            )
            .join(', '),
          result: result.modes.every((m) => !m.available || (m.failed === 0 && m.fiveXx === 0))
            ? '**met**'
            : '**missed**',
        });
      } else {
        sections.push(
          '## 6. Soak\n\nNot run by `npm run bench`: `npm run soak -- 30m` measures it for the record (its section follows, kept between runs); `npm run bench:quick` runs a short one.',
        );
      }
    }
  } finally {
    if (redisUrl) {
      const removed = await removeRedisKeys(redisUrl, context.redisPrefix).catch(() => 0);
      if (removed > 0) context.log(`removed ${removed} Redis keys under ${context.redisPrefix}`);
    }
  }

  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const generated = [
    `_Generated by \`${machine.command}\` (${mode} mode, ${minutes} min) on ${machine.date}._`,
    '',
    machineTable(machine),
    '',
    '## Targets',
    '',
    table(
      ['what', 'target', 'measured', 'result'],
      summary.map((row) => [row.what, row.target, row.measured, row.result]),
    ),
    '',
    ...sections.flatMap((section) => [section, '']),
  ].join('\n');

  console.log(generated);
  if (write) {
    writeGenerated(output, generated, SKELETON);
    context.log(`wrote ${output}`);
  }
}

const formatMs = (ms: number): string => ms.toFixed(0);

const SKELETON = '# Benchmarks\n';

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
