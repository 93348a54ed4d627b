import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

/*
 * The budget and the bookkeeping of the property suites (test/security/fuzz.e2e-spec.ts).
 *
 * FUZZ_SCALE (default 1, what CI runs) multiplies every property's base count of runs;
 * `npm run bench -- --only=fuzz` runs them at 100. FUZZ_SEED replays the inputs of an earlier run
 * (the seed a failure or the bench printed); unset, every run draws new ones. FUZZ_REPORT names a
 * file each property appends one JSON line to (`FuzzReport`), which the bench summarises.
 */

function scaleFromEnv(): number {
  const text = process.env.FUZZ_SCALE;
  if (text === undefined || text === '') return 1;
  const scale = Number(text);
  // A typo must not quietly run the CI budget in place of the one asked for.
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(`FUZZ_SCALE must be a positive number, not ${JSON.stringify(text)}`);
  }
  return scale;
}

function seedFromEnv(): number | undefined {
  const text = process.env.FUZZ_SEED;
  if (text === undefined || text === '') return undefined;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`FUZZ_SEED must be an integer, not ${JSON.stringify(text)}`);
  }
  return seed;
}

export const FUZZ_SCALE = scaleFromEnv();
const FUZZ_SEED = seedFromEnv();

/** How many runs a property of `base` runs gets at this scale (never fewer than one). */
export const fuzzRuns = (base: number): number => Math.max(1, Math.round(base * FUZZ_SCALE));

/** What one property did: one JSON line of the FUZZ_REPORT file. */
export interface FuzzReport {
  /** The test's full name. */
  readonly property: string;
  readonly runs: number;
  /** Inputs drawn and thrown away by `fc.pre`. */
  readonly skipped: number;
  /** Inputs tried while shrinking a failure. */
  readonly shrinks: number;
  /** Replays the property's inputs with FUZZ_SEED. */
  readonly seed: number;
  readonly failed: boolean;
  /** Requests the property sent, and how many of them were answered 5xx. */
  readonly requests: number;
  readonly serverErrors: number;
  /** Answers 2xx to a request whose credentials the property's model calls forged or wrong. */
  readonly forgedAccepted: number;
  /** fast-check's report of the failure (seed, path, counterexample), when it failed. */
  readonly failure?: string;
}

interface Tally {
  requests: number;
  serverErrors: number;
  forgedAccepted: number;
}

let tally: Tally = { requests: 0, serverErrors: 0, forgedAccepted: 0 };

/**
 * Counts one answer for the report: `forged` when the request must not be let through. The
 * property still asserts the answer itself; this only lets the bench say how many were wrong.
 */
export function countAnswer(status: number, forged: boolean): void {
  tally.requests++;
  if (status >= 500) tally.serverErrors++;
  if (forged && status >= 200 && status < 300) tally.forgedAccepted++;
}

/**
 * Runs `property` `fuzzRuns(baseRuns)` times (with FUZZ_SEED when set) and fails the test with
 * fast-check's report (seed, shrunk counterexample) when any run fails; returns how many runs
 * there were.
 */
export async function holds<Ts extends [unknown, ...unknown[]]>(
  property: fc.IAsyncPropertyWithHooks<Ts>,
  baseRuns: number,
): Promise<number> {
  tally = { requests: 0, serverErrors: 0, forgedAccepted: 0 };
  const details = await fc.check(property, {
    numRuns: fuzzRuns(baseRuns),
    includeErrorInReport: true,
    ...(FUZZ_SEED === undefined ? {} : { seed: FUZZ_SEED }),
  });
  const failure = details.failed ? await fc.asyncDefaultReportMessage(details) : undefined;
  const reportFile = process.env.FUZZ_REPORT;
  if (reportFile) {
    const report: FuzzReport = {
      property: expect.getState().currentTestName ?? 'unnamed',
      runs: details.numRuns,
      skipped: details.numSkips,
      shrinks: details.numShrinks,
      seed: details.seed,
      failed: details.failed,
      ...tally,
      ...(failure === undefined ? {} : { failure }),
    };
    appendFileSync(reportFile, `${JSON.stringify(report)}\n`);
  }
  if (failure !== undefined) throw new Error(failure);
  return details.numRuns;
}
