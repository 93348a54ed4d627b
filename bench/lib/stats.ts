/** Small statistics helpers shared by the benchmarks. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Nearest-rank percentile of values sorted ascending (`p` in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** Rounds to a number of significant digits, for tables. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const scale = 10 ** (digits - Math.ceil(Math.log10(Math.abs(value))));
  return Math.round(value * scale) / scale;
}

export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return 'n/a';
  const rounded = round(value, digits);
  return Math.abs(rounded) >= 1000 ? Math.round(rounded).toLocaleString('en-US') : String(rounded);
}

export const formatPercent = (ratio: number): string =>
  Number.isFinite(ratio) ? `${(ratio * 100).toFixed(0)}%` : 'n/a';

export const formatBytes = (bytes: number): string =>
  bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : bytes >= 1024
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${Math.round(bytes)} B`;

/** Times `fn` over `iterations` calls, in rounds, and returns the median ns per call. */
export function nsPerOp(
  fn: (i: number) => unknown,
  iterations: number,
  rounds = 5,
): { nsPerOp: number; rounds: number[] } {
  const results: number[] = [];
  let sink: unknown;
  for (let warm = 0; warm < Math.min(iterations, 10_000); warm++) sink = fn(warm);
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = fn(i);
    results.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  blackhole(sink);
  return { nsPerOp: median(results), rounds: results };
}

/** Async variant of `nsPerOp` (awaits each call, as the guard does). */
export async function nsPerAsyncOp(
  fn: (i: number) => Promise<unknown>,
  iterations: number,
  rounds = 5,
): Promise<{ nsPerOp: number; rounds: number[] }> {
  const results: number[] = [];
  let sink: unknown;
  for (let warm = 0; warm < Math.min(iterations, 10_000); warm++) sink = await fn(warm);
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = await fn(i);
    results.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  blackhole(sink);
  return { nsPerOp: median(results), rounds: results };
}

let kept: unknown;
/** Keeps a result alive so the optimiser cannot drop the work that produced it. */
export function blackhole(value: unknown): void {
  kept = value;
  if (kept === Symbol.for('never')) console.log('unreachable');
}
