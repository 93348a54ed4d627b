import autocannon from 'autocannon';
import { connect, Socket } from 'node:net';
import { percentile } from './stats';

export interface Target {
  /** Short id used in tables. */
  readonly id: string;
  readonly label: string;
  readonly url: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** The exact body every answer must carry (checked on every closed-loop response). */
  readonly body: string;
}

export interface ClosedLoopResult {
  readonly rps: number;
  readonly requests: number;
}

/**
 * Closed-loop throughput with autocannon: `connections` clients each send the next request as
 * soon as the previous answer arrives. Any error, non-2xx answer or unexpected body fails the
 * run: a guard that rejected would otherwise look fast.
 */
export async function closedLoop(
  target: Target,
  options: { durationSec: number; connections?: number },
): Promise<ClosedLoopResult> {
  const result = await autocannon({
    url: target.url + target.path,
    headers: target.headers,
    connections: options.connections ?? 10,
    duration: options.durationSec,
    expectBody: target.body,
  });
  const failures = result.errors + result.timeouts + result.non2xx + result.mismatches;
  if (failures > 0) {
    throw new Error(
      `${target.label}: ${result.non2xx} non-2xx, ${result.mismatches} unexpected bodies, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  // Total over elapsed time, not autocannon's per-second sample mean (the last second is partial).
  return {
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
  };
}

/**
 * Warms a target up: closed loop for some seconds, or (quick mode) a burst of requests, since
 * autocannon runs at least a whole second whatever it is asked for.
 */
export async function warmUp(
  target: Target,
  warmup: { durationSec: number } | { amount: number },
): Promise<void> {
  if ('durationSec' in warmup) {
    await closedLoop(target, warmup);
    return;
  }
  const burst = await openLoop(target, {
    rate: warmup.amount * 10,
    durationMs: 100,
    connections: 10,
  });
  if (burst.errors > 0) throw new Error(`${target.label}: ${burst.errors} failed warm-up requests`);
}

export interface OpenLoopSample {
  /** When the request was due, ms since the run started. */
  readonly at: Float64Array;
  /** Latency in µs, from when the request was due until its answer was complete. */
  readonly latencyUs: Float64Array;
  /** How late it was sent (µs after it was due): the generator's own delay, part of latencyUs. */
  readonly lagUs: Float64Array;
}

export interface OpenLoopResult {
  readonly rate: number;
  readonly sent: number;
  readonly errors: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** p99 of how late requests went out (µs): a busy generator, or every connection waiting on
   *  the server. Large values mean the rate was more than this machine could serve. */
  readonly lagP99: number;
  /** Every measured request (warm-up excluded), for callers that look at a time window. */
  readonly samples: OpenLoopSample;
}

interface Connection {
  socket: Socket;
  busy: boolean;
  /** Closed or failed: never used again. */
  dead: boolean;
  buffer: Buffer;
  due: number;
  index: number;
}

/**
 * Open-loop load at a fixed rate: request i is due at start + i / rate whatever happened to the
 * ones before it, and its latency counts from when it was due (so a stalled server is charged
 * for the requests it delayed: no coordinated omission). Requests go out on a pool of keep-alive
 * connections; one waits for a free connection when all are busy.
 *
 * Why not autocannon's `overallRate`: it gives each connection a quota per second, which the
 * connection spends back to back at the start of every second (closed loop again), and it
 * records latency in whole milliseconds. Here the scheduler spins on `setImmediate` (the load
 * generator has a core to itself) and times with `process.hrtime`.
 */
export async function openLoop(
  target: Target,
  options: {
    rate: number;
    durationMs: number;
    connections?: number;
    /** Leading part of the run not reported (ms). */
    warmupMs?: number;
    /** Called once, this many ms after the start (e.g. to start a sweep or a login storm). */
    at?: { ms: number; run: () => void };
  },
): Promise<OpenLoopResult> {
  const { hostname, port } = new URL(target.url);
  const request = Buffer.from(
    `GET ${target.path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n` +
      Object.entries(target.headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      '\r\n',
  );
  const total = Math.max(1, Math.round((options.rate * options.durationMs) / 1000));
  const warmupMs = options.warmupMs ?? 0;
  const dueAt = new Float64Array(total);
  const latency = new Float64Array(total).fill(NaN);
  const lag = new Float64Array(total);
  const intervalMs = 1000 / options.rate;
  let errors = 0;
  let completed = 0;

  const connections: Connection[] = await Promise.all(
    Array.from({ length: options.connections ?? 32 }, () => openConnection(hostname, Number(port))),
  );
  const waiting: number[] = [];
  let start = 0;
  const nowMs = () => Number(process.hrtime.bigint()) / 1e6 - start;

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const send = (connection: Connection, index: number) => {
    connection.busy = true;
    connection.index = index;
    connection.due = dueAt[index];
    lag[index] = (nowMs() - dueAt[index]) * 1000;
    connection.socket.write(request);
  };
  const complete = (connection: Connection, ok: boolean) => {
    latency[connection.index] = (nowMs() - connection.due) * 1000;
    if (!ok) errors++;
    completed++;
    if (completed === total) finish();
    if (connection.dead) return;
    connection.busy = false;
    const next = waiting.shift();
    if (next !== undefined) send(connection, next);
  };

  for (const connection of connections) {
    connection.socket.on('data', (chunk: Buffer) => {
      connection.buffer =
        connection.buffer.length === 0 ? chunk : Buffer.concat([connection.buffer, chunk]);
      const parsed = parseResponse(connection.buffer);
      if (parsed === null) return;
      connection.buffer = connection.buffer.subarray(parsed.length);
      complete(connection, parsed.status >= 200 && parsed.status < 300);
    });
    const fail = () => {
      if (connection.dead) return;
      connection.dead = true;
      if (connection.busy) complete(connection, false);
      connection.busy = true;
    };
    connection.socket.on('error', fail);
    connection.socket.on('close', fail);
  }

  start = Number(process.hrtime.bigint()) / 1e6;
  for (let i = 0; i < total; i++) dueAt[i] = i * intervalMs;
  let nextIndex = 0;
  let hookFired = options.at === undefined;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowMs();
      if (!hookFired && now >= (options.at as { ms: number }).ms) {
        hookFired = true;
        options.at?.run();
      }
      while (nextIndex < total && dueAt[nextIndex] <= now) {
        const free = connections.find((connection) => !connection.busy);
        if (free) send(free, nextIndex);
        else waiting.push(nextIndex);
        nextIndex++;
      }
      if (nextIndex < total) setImmediate(tick);
      else resolve();
    };
    tick();
  });
  const deadline = setTimeout(finish, 10_000);
  await finished;
  clearTimeout(deadline);
  for (const connection of connections) {
    connection.dead = true;
    connection.socket.destroy();
  }

  const first = Math.min(total, Math.ceil(warmupMs / intervalMs));
  const kept = Array.from({ length: total - first }, (_, i) => i + first);
  const unanswered = kept.filter((i) => Number.isNaN(latency[i])).length;
  const at = Float64Array.from(kept, (i) => dueAt[i]);
  const latencyUs = Float64Array.from(kept, (i) => latency[i]);
  const sorted = latencyUs.filter((value) => !Number.isNaN(value)).sort();
  const lagUs = Float64Array.from(kept, (i) => lag[i]);
  const lags = Float64Array.from(lagUs).sort();
  return {
    rate: options.rate,
    sent: total,
    errors: errors + unanswered,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    lagP99: percentile(lags, 99),
    samples: { at, latencyUs, lagUs },
  };
}

function openConnection(host: string, port: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true }, () =>
      resolve({ socket, busy: false, dead: false, buffer: Buffer.alloc(0), due: 0, index: 0 }),
    );
    socket.once('error', reject);
  });
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** A complete HTTP/1.1 response at the start of `buffer` (Content-Length or chunked), or null. */
export function parseResponse(buffer: Buffer): { status: number; length: number } | null {
  const end = buffer.indexOf(HEADER_END);
  if (end === -1) return null;
  const head = buffer.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const bodyStart = end + 4;
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    // Walk the chunks: "<hex size>\r\n<data>\r\n" ... "0\r\n\r\n" (no trailers expected).
    let at = bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd === -1) return null;
      const size = parseInt(buffer.toString('latin1', at, lineEnd), 16);
      if (Number.isNaN(size)) return { status: 0, length: buffer.length };
      at = lineEnd + 2 + size + 2;
      if (at > buffer.length) return null;
      if (size === 0) return { status, length: at };
    }
  }
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const length = bodyStart + (match ? Number(match[1]) : 0);
  return buffer.length >= length ? { status, length } : null;
}

/** Latency percentiles (µs) of the requests due inside [fromMs, toMs). */
export function windowPercentiles(
  samples: OpenLoopSample,
  fromMs: number,
  toMs: number,
): { count: number; p50: number; p99: number; max: number; lagP99: number } {
  const values: number[] = [];
  const lags: number[] = [];
  for (let i = 0; i < samples.at.length; i++) {
    if (samples.at[i] >= fromMs && samples.at[i] < toMs && !Number.isNaN(samples.latencyUs[i])) {
      values.push(samples.latencyUs[i]);
      lags.push(samples.lagUs[i]);
    }
  }
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    lagP99: percentile(Float64Array.from(lags).sort(), 99),
  };
}
