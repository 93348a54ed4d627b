import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERIFIED_TOKEN_CACHE_SIZE } from '../src/auth/verified-token-cache';
import { BenchChild } from './lib/children';
import { BenchContext, RedisApp, startBenchApp, startRedisApp } from './lib/context';
import { login, register } from './lib/http-client';
import { closedLoop } from './lib/load';
import { RedisKeyCounter } from './lib/redis-cleanup';
import { barChart, table, verdict } from './lib/markdown';
import { Completed, Kind, KINDS, MIX, SessionCounts, SoakTraffic } from './lib/soak-traffic';
import { formatNumber, percentile } from './lib/stats';

export const HEAP_TARGET_RATIO = 1.1;
export const P99_FLAT_TARGET = 2;
/** The share of the mix's own peak the soak runs at. */
const LOAD_SHARE = 0.8;
/** For the heap comparison after a full GC (the `gc` IPC command of bench/servers/bench-app.ts). */
const GC_FLAGS = ['--expose-gc'];

export type SoakMode = 'memory' | 'redis';

export interface SoakSettings {
  /** The measured part, after the warm-up. */
  readonly durationSec: number;
  /** A fixed warm-up, or null: long enough for the state the service bounds to fill (`warmupFor`). */
  readonly warmupSec: number | null;
  readonly scrapeSec: number;
  /** Each peak measurement (guarded route alone, then the mix). */
  readonly peakSec: number;
  readonly users: number;
  /** Heap and p99 judged against their targets (not in the two-minute check of bench:quick). */
  readonly judged: boolean;
}

/** Traffic per mode in bench:quick: 10 s of warm-up, then 50 s measured. */
export const QUICK_SOAK_SEC = 60;
const QUICK_WARMUP_SEC = 10;

/** `npm run soak -- <duration>` (judged), or the short check of bench:quick. */
export function soakSettings(durationSec: number, quick: boolean): SoakSettings {
  return quick
    ? {
        durationSec,
        warmupSec: QUICK_WARMUP_SEC,
        scrapeSec: 2,
        peakSec: 2,
        users: 100,
        judged: false,
      }
    : { durationSec, warmupSec: null, scrapeSec: 5, peakSec: 5, users: 300, judged: true };
}

/** The modes one after the other (never side by side: they would share the two cores). */
export async function soak(
  context: BenchContext,
  settings: SoakSettings,
  modes: readonly SoakMode[],
): Promise<{ modes: SoakModeResult[]; markdown: string }> {
  const results: SoakModeResult[] = [];
  for (const mode of modes) results.push(await soakMode(context, settings, mode));
  return { modes: results, markdown: renderSoak(results, settings) };
}

/** Part 6 in bench:quick: a minute of traffic in each mode (Redis when it answers). */
export function quickSoak(
  context: BenchContext,
): Promise<{ modes: SoakModeResult[]; markdown: string }> {
  return soak(context, soakSettings(QUICK_SOAK_SEC - QUICK_WARMUP_SEC, true), ['memory', 'redis']);
}

/**
 * The service's settings for the soak: sessions that expire within a minute (15 s idle, 60 s
 * absolute) and a sweep every 5 s, so expiry and cleanup run all the time instead of once an hour;
 * activity recorded every 5 s (it must come well within the idle timeout); rate-limit counters
 * that live 60 s (so they, too, reach their steady number during the warm-up) with limits no
 * soak reaches; room for 50 sessions per user, so no session the clients still use is evicted.
 * The users (and the audit trail) in an SQLite file, not in memory: rows on disk, as in production.
 */
export const SOAK_TIMES = { idleTtlSec: 15, absoluteTtlSec: 60, activityIntervalSec: 5 };
const CLEANUP_EVERY_SEC = 5;

function soakEnv(dir: string, mode: SoakMode): Record<string, string> {
  return {
    SESSION_IDLE_TTL: String(SOAK_TIMES.idleTtlSec),
    SESSION_ABSOLUTE_TTL: String(SOAK_TIMES.absoluteTtlSec),
    SESSION_ACTIVITY_INTERVAL: String(SOAK_TIMES.activityIntervalSec),
    CLEANUP_CRON: `*/${CLEANUP_EVERY_SEC} * * * * *`,
    DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
    // The service's default: a snapshot of the memory store every 60 s.
    SESSION_SNAPSHOT_PATH: mode === 'memory' ? join(dir, 'sessions.snapshot') : 'off',
    MAX_SESSIONS_PER_USER: '50',
    ALERT_MAX_SESSIONS: '50',
    RATE_LIMIT_WINDOW: '60',
    RATE_LIMIT_REFRESH_PER_IP: '1000000',
    RATE_LIMIT_REFRESH_PER_SESSION: '1000000',
  };
}

/**
 * How long to warm up at `rate`: until the sessions have turned over (absolute expiry, idle
 * timeout, a sweep) and the verified-token cache has filled (every refresh and login issues a
 * token; the cache keeps 10,000), so what the heap does after it is not the service filling the
 * state it bounds by design. Between 90 s and 5 min.
 */
export function warmupFor(rate: number): number {
  const tokensPerSec = (rate * (MIX.refresh + MIX.login)) / 100;
  const turnover =
    SOAK_TIMES.absoluteTtlSec + SOAK_TIMES.idleTtlSec + CLEANUP_EVERY_SEC + CLEANUP_EVERY_SEC;
  return Math.round(
    Math.min(300, Math.max(90, turnover, (1.2 * VERIFIED_TOKEN_CACHE_SIZE) / tokensPerSec)),
  );
}

/** What the service's /metrics said at one moment. */
export interface Sample {
  /** Seconds from the start of the open-loop run (warm-up included). */
  readonly atSec: number;
  readonly heapUsed: number;
  readonly rss: number;
  /** Event-loop delay over the last scrape interval (ms), the 10 ms sampling period taken off. */
  readonly eldP99Ms: number;
  readonly eldMaxMs: number;
  /** `fpa_sessions_live` (memory), or the session keys under the run's Redis prefix (Redis). */
  readonly sessionsLive: number;
  /** Every key under the run's Redis prefix (sessions, user indexes, rate-limit counters). */
  readonly redisKeys: number;
  readonly cleanupRemoved: number;
  readonly evictions: number;
  /** Answers of 500 or above the service counted (every route, since it started). */
  readonly serverErrors: number;
  /** The machine's CPU time so far, and the part of it the hypervisor took (`cpuTimes`). */
  readonly cpu: CpuTimes;
  /** The wall clock less the monotonic one (ms): constant unless the system clock is set. */
  readonly wallOffsetMs: number;
  /** `fpa_guard_rejections_total` by reason, since the service started. */
  readonly rejections: Record<string, number>;
  /** `fpa_session_revocations_total` by reason, since the service started. */
  readonly revocations: Record<string, number>;
}

export interface CpuTimes {
  /** Jiffies of every core since boot (NaN off Linux). */
  readonly total: number;
  /** Of them, time a virtual machine's CPUs were ready but the hypervisor ran something else. */
  readonly steal: number;
}

/**
 * The machine's CPU time from /proc/stat: a stall of the service that the steal time explains
 * came from the host, not from the service (Linux; NaN elsewhere).
 */
export function cpuTimes(): CpuTimes {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is in user already.
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const counted = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { total: counted, steal: fields[7] ?? NaN };
  } catch {
    return { total: NaN, steal: NaN };
  }
}

/** The share of CPU time stolen between two samples, in percent. */
const stolenPct = (from: CpuTimes, to: CpuTimes): number =>
  to.total > from.total ? (100 * (to.steal - from.steal)) / (to.total - from.total) : NaN;

export interface WindowRow {
  readonly fromSec: number;
  readonly toSec: number;
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p99ByKind: Record<Kind, number>;
  readonly lateP99Ms: number;
  readonly failures: number;
  readonly fiveXx: number;
  readonly skipped: number;
  readonly heapMin: number;
  readonly rssMax: number;
  readonly eldP99Ms: number;
  readonly eldMaxMs: number;
  readonly sessionsMin: number;
  readonly sessionsMax: number;
  readonly redisKeysMax: number;
  readonly swept: number;
  /** The most CPU time stolen by the hypervisor over one scrape interval, in percent. */
  readonly stealMaxPct: number;
  /**
   * The largest change of the system clock against the monotonic one between two scrapes (ms):
   * a clock set forward (a virtual machine resumed after a pause, say) ages every session by as
   * much, in the service and in Redis alike, while nothing in the process stalled.
   */
  readonly clockStepMaxMs: number;
}

export type SoakModeResult =
  | { readonly mode: SoakMode; readonly available: false; readonly reason: string }
  | {
      readonly mode: SoakMode;
      readonly available: true;
      readonly guardedPeak: number;
      readonly mixPeak: number;
      readonly rate: number;
      readonly warmupSec: number;
      readonly windowSec: number;
      readonly durationSec: number;
      readonly users: number;
      /** The machine's 1-minute load average when the traffic started and when it ended. */
      readonly load: { readonly start: number; readonly end: number };
      readonly windows: WindowRow[];
      readonly samples: Sample[];
      readonly sessions: SessionCounts;
      /** Requests not answered as expected, warm-up and peak measurement included, by what they got. */
      readonly failures: Record<string, number>;
      readonly failed: number;
      readonly fiveXx: number;
      readonly serverErrors: number;
      readonly scrapeFailures: number;
      readonly evictions: number;
      /** The service's guard refusals and ended sessions by reason, over the whole run. */
      readonly rejections: Record<string, number>;
      readonly revocations: Record<string, number>;
      readonly swept: number;
      /** Heap in use after a full GC at the end of the warm-up, and after the last request. */
      readonly heapAfterWarmup: number;
      readonly heapAtEnd: number;
      readonly heapRatio: number;
      readonly p99Ratio: number;
      readonly guardedP99Ratio: number;
    };

type Available = Extract<SoakModeResult, { available: true }>;

/**
 * Part 6, one mode: the service under mixed traffic at a fixed rate for the whole duration,
 * /metrics scraped every few seconds. The rate is 80% of the mix's own closed-loop peak (the
 * guarded route's peak alone is measured too, and reported: the mix's logins, argon2id on the
 * hashing threads, bound it long before the guard does).
 */
export async function soakMode(
  context: BenchContext,
  settings: SoakSettings,
  mode: SoakMode,
): Promise<SoakModeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fpa-bench-soak-'));
  const env = soakEnv(dir, mode);
  const started: RedisApp =
    mode === 'memory'
      ? {
          available: true,
          app: await startBenchApp(context, 'app (soak, memory)', env, GC_FLAGS),
        }
      : await startRedisApp(context, 'app (soak, redis)', env, GC_FLAGS);
  if (!started.available) {
    rmSync(dir, { recursive: true, force: true });
    return { mode, available: false, reason: started.reason };
  }
  const app = started.app;
  try {
    return await measure(context, settings, mode, app);
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(
  context: BenchContext,
  settings: SoakSettings,
  mode: SoakMode,
  app: BenchChild,
): Promise<Available> {
  const log = (message: string) => context.log(`soak (${mode}): ${message}`);
  log(`registering ${settings.users} users`);
  const users = Array.from({ length: settings.users }, (_, i) => ({
    email: `bench-soak-${i}@example.com`,
  }));
  const ids: string[] = [];
  for (let i = 0; i < users.length; i += 8) {
    ids.push(
      ...(await Promise.all(users.slice(i, i + 8).map((user) => register(app.url, user.email)))),
    );
  }

  // The guarded route's peak on its own, the way part 1 measures it.
  const reader = await login(app.url, users[0].email);
  const guardedPeak = (
    await closedLoop(
      {
        id: 'guarded',
        label: 'guarded route',
        url: app.url,
        path: '/bench/me',
        headers: reader.headers,
        body: JSON.stringify({ id: ids[0], sessionId: reader.sessionId }),
      },
      { durationSec: settings.peakSec },
    )
  ).rps;

  const traffic = new SoakTraffic(app.url, users, SOAK_TIMES);
  await traffic.seed(users.length / 2);
  const peak = await traffic.closedLoop(settings.peakSec * 1000, 32);
  const rate = Math.round(peak.rps * LOAD_SHARE);
  const warmupSec = settings.warmupSec ?? warmupFor(rate);
  const windowCount = Math.max(6, Math.ceil(settings.durationSec / 300));
  const windowSec = settings.durationSec / windowCount;
  log(
    `guarded peak ${formatNumber(guardedPeak)}/s, mix peak ${formatNumber(peak.rps)}/s: ` +
      `${rate}/s for ${warmupSec} s of warm-up + ${settings.durationSec} s`,
  );

  const warm = new Tally();
  const tallies = Array.from({ length: windowCount }, () => new Tally());
  const record = (request: Completed) => {
    const at = request.dueMs / 1000 - warmupSec;
    const tally = at < 0 ? warm : tallies[Math.min(windowCount - 1, Math.floor(at / windowSec))];
    tally.add(request);
  };

  const samples: Sample[] = [];
  let scrapeFailures = 0;
  // The Redis store cannot count its sessions (that would scan a shared keyspace); this run's
  // prefix is its own, so the bench counts them, and every other key, itself.
  const redisKeys =
    mode === 'redis' && context.redisUrl
      ? new RedisKeyCounter(context.redisUrl, context.redisPrefix)
      : null;
  const loadAtStart = loadavg()[0];
  const startedAt = performance.now();
  const takeSample = async () => {
    const atSec = (performance.now() - startedAt) / 1000;
    try {
      const cpu = cpuTimes();
      const wallOffsetMs = Date.now() - performance.now();
      const metrics = await scrape(app.url);
      const keys = redisKeys ? await redisKeys.count() : null;
      samples.push({
        atSec,
        cpu,
        wallOffsetMs,
        ...metrics,
        sessionsLive: keys ? keys.sessions : metrics.sessionsLive,
        redisKeys: keys ? keys.keys : NaN,
      });
    } catch {
      scrapeFailures++;
    }
  };
  const scraper = setInterval(() => void takeSample(), settings.scrapeSec * 1000);
  const progress = setInterval(
    () => log(`${((performance.now() - startedAt) / 60_000).toFixed(1)} min in`),
    60_000,
  );
  let heapAfterWarmup: Promise<number> | null = null;
  const warmedUp = setTimeout(() => (heapAfterWarmup = app.call<number>('gc')), warmupSec * 1000);
  let heapAtEnd: number;
  try {
    await traffic.openLoop({
      rate,
      durationMs: (warmupSec + settings.durationSec) * 1000,
      connections: 64,
      record,
    });
    await takeSample();
    heapAtEnd = await app.call<number>('gc');
  } finally {
    clearTimeout(warmedUp);
    clearInterval(scraper);
    clearInterval(progress);
    redisKeys?.close();
  }
  if (heapAfterWarmup === null) throw new Error('the run ended before its warm-up did');
  const heapWarm = await (heapAfterWarmup as Promise<number>);

  const windows = tallies.map((tally, i) =>
    windowRow(tally, samples, warmupSec + i * windowSec, warmupSec + (i + 1) * windowSec),
  );
  const failures: Record<string, number> = {};
  for (const tally of [warm, ...tallies]) {
    for (const [what, count] of tally.failures) failures[what] = (failures[what] ?? 0) + count;
  }
  if (peak.failed > 0) failures['during the peak measurement'] = peak.failed;
  const last = samples[samples.length - 1];
  const before = samples.filter((sample) => sample.atSec <= warmupSec).pop();
  const ratio = (values: number[]) => Math.max(...values) / Math.min(...values);
  return {
    mode,
    available: true,
    guardedPeak,
    mixPeak: peak.rps,
    rate,
    warmupSec,
    windowSec,
    durationSec: settings.durationSec,
    users: users.length,
    load: { start: loadAtStart, end: loadavg()[0] },
    windows,
    samples,
    sessions: traffic.sessionCounts(),
    failures,
    failed: Object.values(failures).reduce((sum, count) => sum + count, 0),
    fiveXx: warm.fiveXx + tallies.reduce((sum, tally) => sum + tally.fiveXx, 0),
    serverErrors: last?.serverErrors ?? NaN,
    scrapeFailures,
    evictions: last?.evictions ?? NaN,
    rejections: last?.rejections ?? {},
    revocations: last?.revocations ?? {},
    swept: last && before ? last.cleanupRemoved - before.cleanupRemoved : NaN,
    heapAfterWarmup: heapWarm,
    heapAtEnd,
    heapRatio: heapAtEnd / heapWarm,
    p99Ratio: ratio(windows.map((row) => row.p99Ms)),
    guardedP99Ratio: ratio(windows.map((row) => row.p99ByKind.guarded)),
  };
}

/** The answers of one window (or of the warm-up). */
class Tally {
  readonly latencies = Object.fromEntries(KINDS.map((kind) => [kind, [] as number[]])) as Record<
    Kind,
    number[]
  >;
  readonly late: number[] = [];
  readonly failures = new Map<string, number>();
  fiveXx = 0;
  skipped = 0;

  add(request: Completed): void {
    if (request.outcome === 'skipped') {
      this.skipped++;
      return;
    }
    this.latencies[request.kind].push(request.latencyMs);
    this.late.push(request.lateMs);
    if (typeof request.outcome === 'number' && request.outcome >= 500) this.fiveXx++;
    if (!request.ok) {
      const what =
        request.outcome === 200
          ? `${request.kind} 200 (not the expected answer)`
          : `${request.kind} ${request.outcome}`;
      this.failures.set(what, (this.failures.get(what) ?? 0) + 1);
    }
  }
}

function windowRow(tally: Tally, samples: Sample[], fromSec: number, toSec: number): WindowRow {
  const sorted = (values: number[]) => Float64Array.from(values).sort();
  const all = sorted(KINDS.flatMap((kind) => tally.latencies[kind]));
  const inside = samples.filter((sample) => sample.atSec >= fromSec && sample.atSec < toSec);
  const before = samples.filter((sample) => sample.atSec < fromSec).pop();
  const lastInside = inside[inside.length - 1];
  const pick = (of: (sample: Sample) => number) => inside.map(of);
  return {
    fromSec,
    toSec,
    requests: all.length,
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    p99ByKind: Object.fromEntries(
      KINDS.map((kind) => [kind, percentile(sorted(tally.latencies[kind]), 99)]),
    ) as Record<Kind, number>,
    lateP99Ms: percentile(sorted(tally.late), 99),
    failures: [...tally.failures.values()].reduce((sum, count) => sum + count, 0),
    fiveXx: tally.fiveXx,
    skipped: tally.skipped,
    heapMin: Math.min(...pick((sample) => sample.heapUsed)),
    rssMax: Math.max(...pick((sample) => sample.rss)),
    eldP99Ms: Math.max(...pick((sample) => sample.eldP99Ms)),
    eldMaxMs: Math.max(...pick((sample) => sample.eldMaxMs)),
    sessionsMin: Math.min(...pick((sample) => sample.sessionsLive)),
    sessionsMax: Math.max(...pick((sample) => sample.sessionsLive)),
    redisKeysMax: Math.max(...pick((sample) => sample.redisKeys)),
    swept: lastInside && before ? lastInside.cleanupRemoved - before.cleanupRemoved : NaN,
    stealMaxPct: Math.max(...sinceEach(inside, before, (from, to) => stolenPct(from.cpu, to.cpu))),
    clockStepMaxMs: Math.max(
      ...sinceEach(inside, before, (from, to) => Math.abs(to.wallOffsetMs - from.wallOffsetMs)),
    ),
  };
}

/** `change` from each sample's predecessor (the one before the window for the first) to it. */
const sinceEach = (
  inside: readonly Sample[],
  before: Sample | undefined,
  change: (from: Sample, to: Sample) => number,
): number[] =>
  inside.map((sample, i) => {
    const previous = i > 0 ? inside[i - 1] : before;
    return previous ? change(previous, sample) : NaN;
  });

/**
 * prom-client samples the event loop with `monitorEventLoopDelay` at a 10 ms resolution, and the
 * histogram it reads holds whole intervals between samples: an idle loop shows ~10 ms. The delay is
 * what lies beyond it.
 */
const ELD_SAMPLING_MS = 10;

/** One scrape of the service's /metrics (its histograms of the event loop reset on each). */
async function scrape(
  url: string,
): Promise<Omit<Sample, 'atSec' | 'redisKeys' | 'cpu' | 'wallOffsetMs'>> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const text = await response.text();
  const value = (name: string) => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return match ? Number(match[1]) : NaN;
  };
  const delayMs = (name: string) => Math.max(0, value(name) * 1000 - ELD_SAMPLING_MS);
  /** A counter's series by one label: `{ value of the label: count }`. */
  const byLabel = (name: string, label: string) => {
    const counts: Record<string, number> = {};
    const series = new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\} (\\S+)$`, 'gm');
    for (const match of text.matchAll(series)) counts[match[1]] = Number(match[2]);
    return counts;
  };
  let serverErrors = 0;
  for (const match of text.matchAll(
    /^fpa_http_request_duration_seconds_count\{[^}]*status_code="5\d\d"[^}]*\} (\S+)$/gm,
  )) {
    serverErrors += Number(match[1]);
  }
  return {
    heapUsed: value('nodejs_heap_size_used_bytes'),
    rss: value('process_resident_memory_bytes'),
    eldP99Ms: delayMs('nodejs_eventloop_lag_p99_seconds'),
    eldMaxMs: delayMs('nodejs_eventloop_lag_max_seconds'),
    sessionsLive: value('fpa_sessions_live'),
    cleanupRemoved: value('fpa_cleanup_removed_sessions_total'),
    evictions: value('fpa_session_evictions_total'),
    serverErrors,
    rejections: byLabel('fpa_guard_rejections_total', 'reason'),
    revocations: byLabel('fpa_session_revocations_total', 'reason'),
  };
}

/** `reason count, …`, largest first; "none" when empty. */
const reasons = (counts: Record<string, number>): string => {
  const entries = Object.entries(counts).filter(([, count]) => count > 0);
  if (entries.length === 0) return 'none';
  return entries
    .sort((a, b) => b[1] - a[1])
    .map(([reason, count]) => `${reason} ${formatNumber(count)}`)
    .join(', ');
};
const mib = (bytes: number) => formatNumber(bytes / 1024 / 1024);
/** m:ss */
function clock(seconds: number): string {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}
const ms = (value: number) => formatNumber(value);

/** The section for BENCHMARKS.md: the method once, then each mode's tables. */
export function renderSoak(results: SoakModeResult[], settings: SoakSettings): string {
  const out: string[] = [];
  out.push('## 6. Soak');
  out.push('');
  out.push(
    `The service under mixed traffic at a fixed rate for ${formatNumber(settings.durationSec / 60)} min per mode after a warm-up, ` +
      `${KINDS.map((kind) => `${MIX[kind]}% ${KIND_LABELS[kind]}`).join(', ')} (bench/lib/soak-traffic.ts: ` +
      'open loop, each request due at its time whatever happened before it, latency counted from then). ' +
      `Sessions last ${SOAK_TIMES.idleTtlSec} s idle and ${SOAK_TIMES.absoluteTtlSec} s at most, the cleanup job runs every ${CLEANUP_EVERY_SEC} s ` +
      '(and the memory store writes its snapshot every 60 s, as by default), so sessions expire and are removed all the time: ' +
      `each login's session is used for a random 5 to ${SOAK_TIMES.absoluteTtlSec + 15} s and then left to expire ` +
      "(by idle time, or by absolute time for the longest), refreshes rotate a session's token and cookies, revocations " +
      `end one; ${settings.users} users, logged in in turn. The rate is ${LOAD_SHARE * 100}% of the mix's own peak ` +
      '(closed loop, 32 clients, measured first): 2% logins are argon2id on the hashing threads, which run at the lowest priority on ' +
      "the cores' idle time, and bound the mix long before the guard does (the guarded route's peak alone is measured too, " +
      "and given as the share the rate is of it). Every answer is checked (status, and the guarded body is the session's own); " +
      'a request never races a rotation or revocation of its own session, so any other answer is a failure.',
  );
  out.push('');
  out.push(
    "Figures from the service's own `/metrics`, scraped every " +
      `${settings.scrapeSec} s: \`nodejs_heap_size_used_bytes\`, \`process_resident_memory_bytes\`, prom-client's ` +
      '`nodejs_eventloop_lag_p99_seconds` and `_max_seconds` (its histogram is reset at every scrape, so each is the delay over ' +
      `the last ${settings.scrapeSec} s; shown here less its ${ELD_SAMPLING_MS} ms sampling period, which an idle loop reports), ` +
      '`fpa_sessions_live`, `fpa_cleanup_removed_sessions_total`, `fpa_session_evictions_total` and the 5xx in ' +
      "`fpa_http_request_duration_seconds`; beside them the machine's steal time from /proc/stat (the share of CPU time " +
      'the hypervisor gave to something else: a stall it explains came from the host) and how far the system clock moved ' +
      'against the monotonic one between two scrapes ("clock step": the service and Redis time sessions by the system clock, ' +
      'so a clock set forward, as when a virtual machine resumes after a pause, ends sessions early on both; the clients time ' +
      'their sessions by the same clock). The heap is compared after a full GC: the app runs with `--expose-gc`, and the ' +
      "bench has it collect (over the bench child's IPC channel, bench/servers/bench-app.ts: no route of the service) once at " +
      'the end of the warm-up, under traffic, and once after the last request; the windows show the lowest heap scraped in ' +
      "each, V8's sawtooth without a forced GC. The warm-up lasts until the state the service bounds by design is full: the sessions have " +
      'turned over and the verified-token cache (10,000 tokens) has filled; the rate-limit counters live one 60 s window.',
  );
  for (const result of results) {
    out.push('');
    out.push(`### ${result.mode === 'memory' ? 'Memory mode' : 'Redis mode'}`);
    out.push('');
    if (!result.available) {
      out.push(`Not measured: ${result.reason}.`);
      continue;
    }
    out.push(...renderMode(result, settings));
  }
  return out.join('\n');
}

const KIND_LABELS: Record<Kind, string> = {
  guarded: 'guarded requests (`GET /bench/me`)',
  refresh: 'refreshes',
  list: 'session listings (`GET /sessions`)',
  login: 'logins',
  revoke: 'revocations (`DELETE /sessions/:id`)',
};

function renderMode(result: Available, settings: SoakSettings): string[] {
  const out: string[] = [];
  const { windows } = result;
  const eldP99 = Math.max(...windows.map((row) => row.eldP99Ms));
  const judged = (met: boolean) => (settings.judged ? verdict(met) : 'not judged (quick mode)');
  const failures = Object.entries(result.failures)
    .map(([what, count]) => `${count} ${what}`)
    .join(', ');
  out.push(
    `${formatNumber(result.rate)} requests/s (${formatNumber(result.mixPeak)}/s mix peak; the guarded route alone peaked at ` +
      `${formatNumber(result.guardedPeak)}/s, so this is ${formatNumber((result.rate / result.guardedPeak) * 100)}% of it), ` +
      `${formatNumber(result.warmupSec)} s of warm-up, then ${windows.length} windows of ${clock(result.windowSec)}; ` +
      `load average ${result.load.start.toFixed(2)} when the traffic started, ${result.load.end.toFixed(2)} when it ended. ` +
      `${formatNumber((result.rate * MIX.login) / 100)} logins/s; ${LOAD_SHARE * 100}% of the guarded peak would have meant ` +
      `${formatNumber((result.guardedPeak * LOAD_SHARE * MIX.login) / 100)}. ` +
      `Clients logged in ${result.sessions.loggedIn.toLocaleString('en-US')} sessions, revoked ` +
      `${result.sessions.revoked.toLocaleString('en-US')} and left ${result.sessions.abandoned.toLocaleString('en-US')} to expire; ` +
      (result.mode === 'memory'
        ? `the cleanup job removed ${formatNumber(result.swept)} after the warm-up (the memory store also drops a user's ` +
          'expired sessions when that user logs in or lists sessions). "Sessions" is `fpa_sessions_live`.'
        : 'Redis expires them by itself (the cleanup job has none to remove). The Redis store reports no session count ' +
          '(it would have to scan a shared keyspace): "sessions" counts the session keys under this run\'s own prefix, ' +
          '"keys" every key under it (sessions, user indexes, rate-limit counters).'),
  );
  out.push('');
  out.push(
    table(
      ['measure', 'value', 'target', 'result'],
      [
        [
          'heap used after a full GC: end of the warm-up → after the last request',
          `${mib(result.heapAfterWarmup)} → ${mib(result.heapAtEnd)} MiB (${formatNumber(result.heapRatio * 100)}%)`,
          `≤ ${Math.round(HEAP_TARGET_RATIO * 100)}%`,
          judged(result.heapRatio <= HEAP_TARGET_RATIO),
        ],
        [
          'failed requests (warm-up and peak measurement included)',
          failures === '' ? '0' : `${result.failed} (${failures})`,
          '0',
          verdict(result.failed === 0),
        ],
        [
          '5xx answers: received / counted by the service',
          `${result.fiveXx} / ${formatNumber(result.serverErrors)}`,
          '0',
          verdict(result.fiveXx === 0 && result.serverErrors === 0),
        ],
        [
          'p99 latency, all requests: highest window / lowest',
          `${formatNumber(result.p99Ratio)}x`,
          `≤ ${P99_FLAT_TARGET}x`,
          judged(result.p99Ratio <= P99_FLAT_TARGET),
        ],
        [
          'p99 latency, guarded requests: highest window / lowest',
          `${formatNumber(result.guardedP99Ratio)}x`,
          `≤ ${P99_FLAT_TARGET}x`,
          judged(result.guardedP99Ratio <= P99_FLAT_TARGET),
        ],
        ['event-loop delay p99, highest scrape', `${ms(eldP99)} ms`, '', ''],
        ...(result.mode === 'redis'
          ? [
              [
                'keys under the Redis prefix, highest in the first window → in the last',
                `${formatNumber(windows[0].redisKeysMax)} → ${formatNumber(windows[windows.length - 1].redisKeysMax)}`,
                '',
                '',
              ],
            ]
          : []),
        ['sessions evicted by the per-user limit', formatNumber(result.evictions), '0', ''],
        ["guard refusals by reason (the service's count)", reasons(result.rejections), '', ''],
        ["sessions ended by reason (the service's count)", reasons(result.revocations), '', ''],
        ['/metrics scrapes that failed', String(result.scrapeFailures), '0', ''],
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      [
        'window',
        'requests',
        'p50 ms',
        'p99 ms',
        ...KINDS.map((kind) => `p99 ${kind} ms`),
        'sent late p99 ms',
        'failed',
        '5xx',
        'heap min MiB',
        'RSS max MiB',
        'ELD p99 / max ms',
        'steal max %',
        'clock step max ms',
        'sessions',
        ...(result.mode === 'redis' ? ['keys'] : ['swept']),
      ],
      windows.map((row) => [
        `${clock(row.fromSec)}-${clock(row.toSec)}`,
        row.requests.toLocaleString('en-US'),
        ms(row.p50Ms),
        ms(row.p99Ms),
        ...KINDS.map((kind) => ms(row.p99ByKind[kind])),
        ms(row.lateP99Ms),
        String(row.failures),
        String(row.fiveXx),
        mib(row.heapMin),
        mib(row.rssMax),
        `${ms(row.eldP99Ms)} / ${ms(row.eldMaxMs)}`,
        Number.isFinite(row.stealMaxPct) ? row.stealMaxPct.toFixed(1) : 'n/a',
        Number.isFinite(row.clockStepMaxMs) ? ms(row.clockStepMaxMs) : 'n/a',
        `${formatNumber(row.sessionsMin)}-${formatNumber(row.sessionsMax)}`,
        formatNumber(result.mode === 'redis' ? row.redisKeysMax : row.swept),
      ]),
    ),
  );
  out.push('');
  out.push(
    'Windows are timed from the start of the run (warm-up included). "Sent late" is how far behind its time a request went ' +
      'out (every connection busy, or the generator short of CPU): when it is large, the percentiles are backlog.',
  );
  const buckets = bucketed(result.samples, 30);
  out.push('');
  out.push(
    barChart({
      title: `Heap used, lowest per ${clock(buckets.seconds)} (MiB), warm-up included`,
      labels: buckets.labels,
      yLabel: 'MiB',
      values: buckets.rows.map((rows) => Math.min(...rows.map((s) => s.heapUsed)) / 1024 / 1024),
    }),
  );
  out.push('');
  out.push(
    barChart({
      title: `Event-loop delay p99, highest per ${clock(buckets.seconds)} (ms)`,
      labels: buckets.labels,
      yLabel: 'ms',
      values: buckets.rows.map((rows) => Math.max(...rows.map((s) => s.eldP99Ms))),
    }),
  );
  out.push('');
  const lowest = Math.min(...windows.map((row) => row.p99ByKind.guarded));
  out.push(
    barChart({
      title: 'Guarded p99 per window (ms; line: 2x the lowest)',
      labels: windows.map((row) => clock(row.fromSec)),
      yLabel: 'ms',
      values: windows.map((row) => row.p99ByKind.guarded),
      line: windows.map(() => lowest * P99_FLAT_TARGET),
    }),
  );
  return out;
}

/** The samples in about `count` runs of equal length, each labelled with its start (m:ss). */
function bucketed(
  samples: Sample[],
  count: number,
): { seconds: number; labels: string[]; rows: Sample[][] } {
  const end = samples.length ? samples[samples.length - 1].atSec : 0;
  const seconds = Math.max(1, Math.ceil(end / count));
  const rows: Sample[][] = [];
  for (const sample of samples) {
    const at = Math.min(Math.floor(sample.atSec / seconds), count - 1);
    (rows[at] ??= []).push(sample);
  }
  const kept = rows.map((row, i) => ({ row, i })).filter(({ row }) => row !== undefined);
  return {
    seconds,
    labels: kept.map(({ i }) => clock(i * seconds)),
    rows: kept.map(({ row }) => row),
  };
}
