import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FuzzReport } from '../test/support/fuzz';
import type { BenchContext, Mode } from './lib/context';
import { table, verdict } from './lib/markdown';

const ROOT = join(__dirname, '..');
/** The property suites this part runs, as CI does but with FUZZ_SCALE times the runs. */
export const FUZZ_SUITES = ['test/security/fuzz.e2e-spec.ts'];
/** Full mode: 100 times the runs CI makes. Quick mode only checks that the part works. */
export const FUZZ_SCALE: Record<Mode, number> = { full: 100, quick: 3 };
/** Past this, jest is killed and the part reports what finished. */
const TIME_LIMIT_MS: Record<Mode, number> = { full: 45 * 60_000, quick: 5 * 60_000 };

export interface FuzzResult {
  readonly scale: number;
  readonly seed: number;
  readonly properties: FuzzReport[];
  readonly durationMs: number;
  /** Why the run is incomplete or failed beyond its properties (killed, jest failed), or null. */
  readonly problem: string | null;
  readonly summary: Array<{ what: string; target: string; measured: string; result: string }>;
  readonly markdown: string;
}

/**
 * Part "fuzz": runs the fast-check suites in a jest process of their own with FUZZ_SCALE times
 * the CI runs and one seed (FUZZ_SEED, drawn here unless set), bounded in time. Each property
 * reports its runs, its requests, the 5xx among them and the 2xx to forged or wrong credentials
 * (test/support/fuzz.ts); jest's own verdict covers the rest (a wrong status, an undocumented
 * answer).
 */
export async function fuzzSuites(context: BenchContext): Promise<FuzzResult> {
  const scale = FUZZ_SCALE[context.mode];
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31 - 1);
  const dir = mkdtempSync(join(tmpdir(), 'fpa-bench-fuzz-'));
  const reportFile = join(dir, 'report.jsonl');
  const limitMs = TIME_LIMIT_MS[context.mode];
  context.log(`fuzz: ${FUZZ_SUITES.join(', ')} at FUZZ_SCALE=${scale}, FUZZ_SEED=${seed}`);
  const started = Date.now();
  try {
    const run = await runJest(
      { FUZZ_SCALE: String(scale), FUZZ_SEED: String(seed), FUZZ_REPORT: reportFile },
      limitMs,
    );
    const durationMs = Date.now() - started;
    let properties: FuzzReport[] = [];
    try {
      properties = readFileSync(reportFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as FuzzReport);
    } catch {
      // No property finished: the problem below says why.
    }
    // A property that failed makes jest exit 1 too; that is in the table. Anything else is not.
    const problem = run.timedOut
      ? `killed after ${Math.round(limitMs / 60_000)} min; ${properties.length} properties had finished`
      : run.code !== 0 && !properties.some((property) => property.failed)
        ? `jest exited ${run.code}:\n${run.tail}`
        : null;
    return report({ scale, seed, properties, durationMs, problem });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs jest on the fuzz suites; its output goes on to this process's stderr as it comes. */
function runJest(
  env: Record<string, string>,
  limitMs: number,
): Promise<{ code: number | null; timedOut: boolean; tail: string }> {
  const child = spawn(
    process.execPath,
    [require.resolve('jest/bin/jest'), '--config', 'jest.config.js', '--runInBand', ...FUZZ_SUITES],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so the time limit ends jest and anything it started.
      detached: true,
    },
  );
  let tail = '';
  const keep = (chunk: Buffer) => {
    process.stderr.write(chunk);
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-(child.pid as number), 'SIGKILL');
  }, limitMs);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, tail });
    });
  });
}

/** A property's name without its suite's (the e2e suites' top describe ends in "(e2e)"). */
const shortName = (property: string): string => property.replace(/^.*?\(e2e\) /, '');

function report(run: Omit<FuzzResult, 'summary' | 'markdown'>): FuzzResult {
  const { scale, seed, properties, durationMs, problem } = run;
  const sum = (pick: (property: FuzzReport) => number) =>
    properties.reduce((total, property) => total + pick(property), 0);
  const runs = sum((p) => p.runs);
  const requests = sum((p) => p.requests);
  const serverErrors = sum((p) => p.serverErrors);
  const forgedAccepted = sum((p) => p.forgedAccepted);
  const failed = properties.filter((p) => p.failed);
  const complete = problem === null;
  const count = (value: number) => value.toLocaleString('en-US');

  const summary = [
    {
      what: `fuzz: answers 5xx to ${count(requests)} random requests (${properties.length} properties at ${scale}x)`,
      target: '0',
      measured: count(serverErrors),
      result: verdict(serverErrors === 0 && complete),
    },
    {
      what: 'fuzz: answers 2xx to forged or wrong credentials',
      target: '0',
      measured: count(forgedAccepted),
      result: verdict(forgedAccepted === 0 && complete),
    },
    {
      what: 'fuzz: properties that held (every answer the one the model expects)',
      target: 'all',
      measured: `${properties.length - failed.length} of ${properties.length}${complete ? '' : ' (run incomplete)'}`,
      result: verdict(failed.length === 0 && complete),
    },
  ];

  const replay = `FUZZ_SCALE=${scale} FUZZ_SEED=${seed} npx jest --config jest.config.js ${FUZZ_SUITES.join(' ')}`;
  const out: string[] = ['## Bad input at volume (fuzz suites)', ''];
  out.push(
    `The fast-check properties of ${FUZZ_SUITES.map((suite) => `\`${suite}\``).join(', ')} (the guard, ` +
      'the cookie parser, every DTO) at FUZZ_SCALE=' +
      `${scale}: ${scale} times the runs CI makes, ${count(runs)} inputs and ${count(requests)} requests ` +
      `in ${(durationMs / 60_000).toFixed(1)} min, seed ${seed}. A run is one input; requests are what ` +
      'the server answered, shrinking a failure included. "forged 2xx" counts answers 2xx to a request whose credentials ' +
      "the property's model calls forged or wrong (a mangled token, another session's cookie, a wrong " +
      'password); each property also checks every status against its model.',
  );
  out.push('');
  out.push(
    table(
      ['property', 'runs', 'skipped', 'requests', '5xx', 'forged 2xx', 'result'],
      properties.map((p) => [
        shortName(p.property),
        count(p.runs),
        count(p.skipped),
        count(p.requests),
        count(p.serverErrors),
        count(p.forgedAccepted),
        p.failed ? '**failed**' : 'held',
      ]),
    ),
  );
  out.push('');
  out.push(
    `Replay these inputs: \`${replay}\` (add \`-t '<property>'\` for one property; a failure's own ` +
      'report also gives the path of its shrunk counterexample).',
  );
  if (problem !== null) out.push('', `**The run is incomplete:** ${problem.split('\n')[0]}`);
  for (const property of failed) {
    out.push(
      '',
      `**${shortName(property.property)}** failed:`,
      '',
      '```',
      // The stack says where in the suite, with this machine's paths: the replay finds it again.
      (property.failure ?? '')
        .split('\n')
        .filter((line) => !/^\s+at /.test(line))
        .join('\n')
        .slice(0, 3000),
      '```',
    );
  }
  if (problem?.includes('\n')) out.push('', '```', problem.split('\n').slice(1).join('\n'), '```');
  return { ...run, summary, markdown: out.join('\n') };
}
