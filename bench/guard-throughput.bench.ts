import * as jwt from 'jsonwebtoken';
import { BenchChild, startChild } from './lib/children';
import {
  BenchContext,
  RedisApp,
  startBenchApp,
  startRedisApp,
  startSqlApps,
  USER_AGENT,
} from './lib/context';
import { get, signIn } from './lib/http-client';
import { closedLoop, openLoop, OpenLoopResult, Target, warmUp } from './lib/load';
import { barChart, table, verdict } from './lib/markdown';
import { formatNumber, formatPercent, median } from './lib/stats';
import { microBenchmarks, MicroResult } from './micro.bench';
import { UNGUARDED_BODY } from './servers/bench.module';

export interface ThroughputRow {
  readonly target: Target;
  readonly rps: number[];
  readonly median: number;
}

export interface LatencyRow {
  readonly target: Target;
  readonly share: number;
  readonly rate: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly lagP99: number;
}

export interface GuardResult {
  readonly throughput: ThroughputRow[];
  readonly latency: LatencyRow[];
  readonly micro: MicroResult[];
  readonly redis: RedisApp;
  readonly ratios: GuardRatios;
  readonly markdown: string;
}

export interface GuardRatios {
  readonly guardedVsUnguarded: number;
  readonly authMeVsUnguarded: number;
  readonly unguardedVsNest: number;
  readonly guardedVsBaselineA: number;
  readonly guardedVsBetterAuth: number;
  readonly guardedVsBetterAuthCached: number;
  readonly redisVsMemory: number | null;
  readonly auditOnVsOff: number;
  readonly sqliteVsMemory: number | null;
  readonly postgresVsMemory: number | null;
}

/** One ratio of two peaks of this run, with its goal (null: reported, not judged). */
export interface GuardGoal {
  readonly what: string;
  readonly value: number | null;
  readonly goal: number | null;
  readonly style: 'percent' | 'times';
  /** Why `value` is null. */
  readonly missing?: string;
}

/** The part's goals, in the order the part's table and the run's summary list them. */
export function guardGoals(r: GuardRatios): GuardGoal[] {
  return [
    {
      what: 'guarded vs unguarded throughput',
      value: r.guardedVsUnguarded,
      goal: 0.9,
      style: 'percent',
    },
    {
      what: 'real `GET /auth/me` vs unguarded throughput',
      value: r.authMeVsUnguarded,
      goal: 0.85,
      style: 'percent',
    },
    {
      what: 'unguarded route vs a bare NestJS-on-Fastify route',
      value: r.unguardedVsNest,
      goal: 0.7,
      style: 'percent',
    },
    {
      what: 'guarded vs baseline A throughput',
      value: r.guardedVsBaselineA,
      goal: 8,
      style: 'times',
    },
    {
      what: "guarded vs better-auth's getSession (baseline C)",
      value: r.guardedVsBetterAuth,
      goal: null,
      style: 'times',
    },
    {
      what: "guarded vs better-auth's getSession with its cookie cache",
      value: r.guardedVsBetterAuthCached,
      goal: null,
      style: 'times',
    },
    {
      what: 'Redis mode vs memory mode throughput',
      value: r.redisVsMemory,
      goal: 0.85,
      style: 'percent',
      missing: 'Redis not available',
    },
    {
      what: 'guarded throughput, audit trail on vs off (it writes nothing per request)',
      value: r.auditOnVsOff,
      goal: 0.95,
      style: 'percent',
    },
    {
      what: 'SQL (PostgreSQL) mode vs memory mode throughput',
      value: r.postgresVsMemory,
      goal: 0.35,
      style: 'percent',
      missing: 'PostgreSQL not available',
    },
    {
      what: 'SQL (SQLite) mode vs memory mode throughput',
      value: r.sqliteVsMemory,
      goal: 0.6,
      style: 'percent',
      missing: 'not available',
    },
  ];
}

/** A goal as the tables print it. */
export function judgeGoal(goal: GuardGoal): { target: string; measured: string; result: string } {
  const target =
    goal.goal === null
      ? 'reported'
      : goal.style === 'percent'
        ? `≥ ${formatPercent(goal.goal)}`
        : `≥ ${goal.goal}x`;
  if (goal.value === null || !Number.isFinite(goal.value))
    return { target, measured: goal.missing ?? 'not measured', result: 'not measured' };
  const measured =
    goal.style === 'percent' ? formatPercent(goal.value) : `${goal.value.toFixed(1)}x`;
  return { target, measured, result: goal.goal === null ? '' : verdict(goal.value >= goal.goal) };
}

/** Targets whose latency is measured at a fixed rate (the others only for throughput). */
const LATENCY_TARGETS = [
  'http',
  'fastify',
  'public',
  'guarded',
  'auth-me',
  'nest-fastify',
  'baseline-a',
  'better-auth',
  'better-auth-cached',
  'guarded-redis',
  'guarded-sqlite',
  'guarded-postgres',
];
const QUICK_LATENCY_TARGETS = ['public', 'guarded', 'baseline-a', 'guarded-redis'];

/**
 * Part 1: guarded request throughput (closed loop) and latency at a fixed rate (open loop), all
 * servers in their own processes, measured alternately in the same run; then the guard broken
 * into steps next to micro-benchmarks of the same pieces.
 */
export async function guardThroughput(context: BenchContext): Promise<GuardResult> {
  const { settings } = context;
  context.log('part 1: starting servers');
  const [app, auditOff, baselineA, betterAuth, betterAuthCached, fastify, http, redis, sql] =
    await Promise.all([
      startBenchApp(context, 'app (memory)'),
      startBenchApp(context, 'app (memory, audit trail off)', { AUDIT_TRAIL: 'off' }),
      startChild('baseline A', 'baseline-passport', {
        secret: context.secret,
        body: UNGUARDED_BODY,
      }),
      startChild('baseline C', 'baseline-better-auth', {
        secret: context.secret,
        cookieCache: false,
      }),
      startChild('baseline C, cookie cache', 'baseline-better-auth', {
        secret: context.secret,
        cookieCache: true,
      }),
      startChild('fastify', 'baseline-fastify', { body: UNGUARDED_BODY }),
      startChild('node:http', 'baseline-http', { body: UNGUARDED_BODY }),
      startRedisApp(context, 'app (redis)'),
      startSqlApps(context),
    ]);
  const stores = { redis, sqlite: sql.sqlite, postgres: sql.postgres };
  const children: BenchChild[] = [
    app,
    auditOff,
    baselineA,
    betterAuth,
    betterAuthCached,
    fastify,
    http,
    ...Object.values(stores).flatMap((store) => (store.available ? [store.app] : [])),
  ];
  try {
    const targets = await buildTargets(context, app, baselineA, fastify, http, stores);
    targets.splice(
      targets.findIndex((t) => t.id === 'baseline-a') + 1,
      0,
      await betterAuthTarget('better-auth', "baseline C: better-auth's getSession", betterAuth),
      await betterAuthTarget(
        'better-auth-cached',
        "baseline C: better-auth's getSession, cookie cache on",
        betterAuthCached,
      ),
    );
    const offUser = await signIn(auditOff.url, 'bench-audit-off@example.com');
    targets.splice(targets.findIndex((t) => t.id === 'guarded') + 1, 0, {
      id: 'guarded-audit-off',
      label: 'guarded route, memory store, audit trail off',
      url: auditOff.url,
      path: '/bench/me',
      headers: offUser.headers,
      body: JSON.stringify({ id: offUser.userId, sessionId: offUser.sessionId }),
    });
    await checkGuardsReject(targets);

    context.log(`part 1: warm-up (${warmupText(settings)} per target)`);
    for (const target of targets) await warmUp(target, settings.warmup);

    const samples = new Map<string, number[]>(targets.map((target) => [target.id, []]));
    for (let round = 0; round < settings.rounds; round++) {
      // Alternate: every round starts one target later, so no server always runs first or last.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const target of order) {
        const { rps } = await closedLoop(target, { durationSec: settings.durationSec });
        samples.get(target.id)?.push(rps);
      }
      context.log(`part 1: throughput round ${round + 1}/${settings.rounds} done`);
    }
    const throughput = targets.map((target) => {
      const rps = samples.get(target.id) ?? [];
      return { target, rps, median: median(rps) };
    });
    const peak = (id: string) => throughput.find((row) => row.target.id === id)?.median ?? NaN;

    const latencyIds = context.mode === 'quick' ? QUICK_LATENCY_TARGETS : LATENCY_TARGETS;
    const latencyTargets = targets.filter((target) => latencyIds.includes(target.id));
    const latency: LatencyRow[] = [];
    for (const share of [0.5, 0.8]) {
      const runs = new Map<string, OpenLoopResult[]>();
      for (let round = 0; round < settings.latencyRounds; round++) {
        for (let i = 0; i < latencyTargets.length; i++) {
          const target = latencyTargets[(i + round) % latencyTargets.length];
          const result = await openLoop(target, {
            rate: Math.max(50, Math.round(peak(target.id) * share)),
            durationMs: settings.latencyMs,
            warmupMs: Math.min(1000, settings.latencyMs / 5),
          });
          if (result.errors > 0)
            throw new Error(`${target.label}: ${result.errors} failed requests at a fixed rate`);
          runs.set(target.id, [...(runs.get(target.id) ?? []), result]);
        }
      }
      for (const target of latencyTargets) {
        const results = runs.get(target.id) ?? [];
        latency.push({
          target,
          share,
          rate: results[0]?.rate ?? NaN,
          p50: median(results.map((r) => r.p50)),
          p90: median(results.map((r) => r.p90)),
          p99: median(results.map((r) => r.p99)),
          max: median(results.map((r) => r.max)),
          lagP99: median(results.map((r) => r.lagP99)),
        });
      }
      context.log(`part 1: latency at ${share * 100}% of peak done`);
    }

    context.log('part 1: micro-benchmarks');
    const micro = await microBenchmarks(
      settings.microIterations,
      Math.min(settings.storeSessions, 100_000),
    );

    const ratios: GuardRatios = {
      guardedVsUnguarded: peak('guarded') / peak('public'),
      authMeVsUnguarded: peak('auth-me') / peak('public'),
      unguardedVsNest: peak('public') / peak('nest-fastify'),
      guardedVsBaselineA: peak('guarded') / peak('baseline-a'),
      guardedVsBetterAuth: peak('guarded') / peak('better-auth'),
      guardedVsBetterAuthCached: peak('guarded') / peak('better-auth-cached'),
      redisVsMemory: redis.available ? peak('guarded-redis') / peak('guarded') : null,
      auditOnVsOff: peak('guarded') / peak('guarded-audit-off'),
      sqliteVsMemory: sql.sqlite.available ? peak('guarded-sqlite') / peak('guarded') : null,
      postgresVsMemory: sql.postgres.available ? peak('guarded-postgres') / peak('guarded') : null,
    };
    return {
      throughput,
      latency,
      micro,
      redis,
      ratios,
      markdown: render(context, throughput, latency, micro, stores, ratios),
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await sql.cleanUp();
  }
}

async function buildTargets(
  context: BenchContext,
  app: BenchChild,
  baselineA: BenchChild,
  fastify: BenchChild,
  http: BenchChild,
  stores: Record<'redis' | 'sqlite' | 'postgres', RedisApp>,
): Promise<Target[]> {
  const user = await signIn(app.url, 'bench-memory@example.com');
  const plain = { 'user-agent': USER_AGENT };
  const guardedBody = JSON.stringify({ id: user.userId, sessionId: user.sessionId });
  const unguardedBody = JSON.stringify(UNGUARDED_BODY);
  const target = (
    id: string,
    label: string,
    child: BenchChild,
    path: string,
    headers: Record<string, string>,
    body: string,
  ): Target => ({
    id,
    label,
    url: child.url,
    path,
    headers,
    body,
  });
  const meBody = (await get(`${app.url}/auth/me`, user.headers)).body;

  // Baseline A's token: what the NestJS docs' login would sign (string secret, default HS256).
  const docsToken = jwt.sign({ sub: user.userId, sid: user.sessionId }, context.secret, {
    expiresIn: '1h',
  });
  const targets = [
    target('http', 'node:http (baseline B)', http, '/bench/public', plain, unguardedBody),
    target('fastify', 'raw Fastify (baseline B)', fastify, '/bench/public', plain, unguardedBody),
    target(
      'nest-fastify',
      'bare NestJS on Fastify (baseline B)',
      baselineA,
      '/bench/public',
      plain,
      unguardedBody,
    ),
    target('public', 'unguarded route (ceiling)', app, '/bench/public', plain, unguardedBody),
    target('step-jwt', 'step 1: JWT verify', app, '/bench/step/jwt', user.headers, guardedBody),
    target(
      'step-fingerprint',
      'step 2: + fingerprint',
      app,
      '/bench/step/fingerprint',
      user.headers,
      guardedBody,
    ),
    target(
      'step-session',
      'step 3: + session lookup',
      app,
      '/bench/step/session',
      user.headers,
      guardedBody,
    ),
    target(
      'step-touch',
      'step 4: + activity write every request',
      app,
      '/bench/step/touch',
      user.headers,
      guardedBody,
    ),
    target('guarded', 'guarded route, memory store', app, '/bench/me', user.headers, guardedBody),
    target('auth-me', 'real GET /auth/me (+ user query)', app, '/auth/me', user.headers, meBody),
    target(
      'baseline-a',
      'baseline A: passport-jwt as in the NestJS docs',
      baselineA,
      '/bench/me',
      { ...plain, authorization: `Bearer ${docsToken}` },
      guardedBody,
    ),
  ];
  const labels = {
    redis: 'Redis store',
    sqlite: 'SQL store on SQLite',
    postgres: 'SQL store on PostgreSQL',
  };
  for (const [name, store] of Object.entries(stores) as Array<[keyof typeof stores, RedisApp]>) {
    if (!store.available) continue;
    const storeUser = await signIn(store.app.url, `bench-${name}@example.com`);
    targets.push(
      target(
        `guarded-${name}`,
        `guarded route, ${labels[name]}`,
        store.app,
        '/bench/me',
        storeUser.headers,
        JSON.stringify({ id: storeUser.userId, sessionId: storeUser.sessionId }),
      ),
    );
  }
  for (const t of targets) {
    const answer = await get(t.url + t.path, t.headers);
    if (answer.status !== 200 || answer.body !== t.body) {
      throw new Error(`${t.label}: expected 200 ${t.body}, got ${answer.status} ${answer.body}`);
    }
  }
  return targets;
}

/** A better-auth child's target: a user signed up there, its session cookie on every request. */
async function betterAuthTarget(id: string, label: string, child: BenchChild): Promise<Target> {
  const user = await child.call<{ cookie: string; id: string; sessionId: string }>('signUp', {
    email: `bench-${id}@example.com`,
    password: 'bench-password-better-auth',
  });
  const target = {
    id,
    label,
    url: child.url,
    path: '/bench/me',
    headers: { 'user-agent': USER_AGENT, cookie: user.cookie },
    body: JSON.stringify({ id: user.id, sessionId: user.sessionId }),
  };
  const answer = await get(target.url + target.path, target.headers);
  if (answer.status !== 200 || answer.body !== target.body)
    throw new Error(`${label}: expected 200 ${target.body}, got ${answer.status} ${answer.body}`);
  return target;
}

/** A guard that let everything through would be fast for the wrong reason: prove each one rejects. */
async function checkGuardsReject(targets: Target[]): Promise<void> {
  for (const t of targets) {
    if (t.id.startsWith('better-auth')) {
      // Its credential is the session cookie: without it, or with its signature altered, 401.
      const cookie = t.headers.cookie;
      const forged = cookie.replace(
        /session_token=[^.;]+\.(.)/,
        (m, c: string) => m.slice(0, -1) + (c === 'A' ? 'B' : 'A'),
      );
      const bad: Array<Record<string, string>> = [
        { 'user-agent': USER_AGENT },
        { ...t.headers, cookie: forged },
      ];
      for (const headers of bad) {
        const answer = await get(t.url + t.path, headers);
        if (answer.status !== 401)
          throw new Error(`${t.label}: a bad request got ${answer.status}, not 401`);
      }
      continue;
    }
    if (!t.headers.authorization) continue;
    const withoutCookie = { ...t.headers };
    delete withoutCookie.cookie;
    const forged = { ...t.headers, authorization: `${t.headers.authorization.slice(0, -4)}AAAA` };
    for (const headers of t.id === 'baseline-a' || t.id === 'step-jwt'
      ? [forged]
      : [forged, withoutCookie]) {
      const answer = await get(t.url + t.path, headers);
      if (answer.status !== 401)
        throw new Error(`${t.label}: a bad request got ${answer.status}, not 401`);
    }
  }
}

export const warmupText = (settings: BenchContext['settings']): string =>
  'amount' in settings.warmup
    ? `${settings.warmup.amount} requests`
    : `${settings.warmup.durationSec} s`;

function render(
  context: BenchContext,
  throughput: ThroughputRow[],
  latency: LatencyRow[],
  micro: MicroResult[],
  stores: Record<'redis' | 'sqlite' | 'postgres', RedisApp>,
  ratios: GuardRatios,
): string {
  const { settings } = context;
  const byId = new Map(throughput.map((row) => [row.target.id, row]));
  const rps = (id: string) => byId.get(id)?.median ?? NaN;
  const us = (id: string) => 1e6 / rps(id);
  const microNs = (id: string) => micro.find((m) => m.id === id)?.nsPerOp ?? NaN;
  const out: string[] = [];

  out.push('## 1. Guarded request throughput and latency');
  out.push('');
  out.push(
    `Closed loop (autocannon, 10 connections, ${settings.durationSec} s per run after a warm-up of ${warmupText(settings)} per target), ` +
      `median of ${settings.rounds} alternating round(s); the spread is the lowest and highest round.`,
  );
  out.push('');
  out.push(
    table(
      ['target', 'requests/s (median)', 'spread', 'vs unguarded'],
      throughput.map((row) => [
        row.target.label,
        formatNumber(row.median),
        row.rps.length > 1
          ? `${formatNumber(Math.min(...row.rps))} to ${formatNumber(Math.max(...row.rps))}`
          : 'one round',
        formatPercent(row.median / rps('public')),
      ]),
    ),
  );
  for (const [name, store] of Object.entries(stores)) {
    if (!store.available) out.push('', `${name} mode: ${store.reason}.`);
  }
  out.push('');
  out.push(
    barChart({
      title: 'Throughput (requests/s, median)',
      labels: throughput.map((row) => row.target.id),
      yLabel: 'requests/s',
      values: throughput.map((row) => row.median),
    }),
  );
  out.push('');
  out.push(
    table(
      ['ratio of peaks', 'target', 'measured', 'result'],
      guardGoals(ratios).map((goal) => {
        const { target, measured, result } = judgeGoal(goal);
        return [goal.what, target, measured, result];
      }),
    ),
  );

  out.push('');
  out.push('### Latency at a fixed rate (open loop)');
  out.push('');
  out.push(
    `Each target at 50% and 80% of its own median peak, ${settings.latencyMs / 1000} s per run (the first fifth discarded), ` +
      `median of ${settings.latencyRounds} round(s). Latency counts from when each request was due, in µs ` +
      "(bench/lib/load.ts: autocannon's `overallRate` spends each connection's per-second quota back to back and rounds to whole ms, so it measures queueing again).",
  );
  out.push('');
  out.push(
    table(
      [
        'target',
        'load',
        'rate (req/s)',
        'p50 µs',
        'p90 µs',
        'p99 µs',
        'max µs',
        'sent late p99 µs',
      ],
      latency.map((row) => [
        row.target.label,
        `${row.share * 100}%`,
        formatNumber(row.rate),
        formatNumber(row.p50),
        formatNumber(row.p90),
        formatNumber(row.p99),
        formatNumber(row.max),
        formatNumber(row.lagP99),
      ]),
    ),
  );
  out.push('');
  out.push(
    '"Sent late" is how far behind schedule requests went out (every connection busy, or the generator starved of CPU); ' +
      'when it is large, the server could not keep up with the rate on this machine and the percentiles are backlog.',
  );
  const at80 = latency.filter((row) => row.share === 0.8);
  out.push('');
  out.push(
    barChart({
      title: 'p99 latency at 80% of each peak (µs)',
      labels: at80.map((row) => row.target.id),
      yLabel: 'µs',
      values: at80.map((row) => row.p99),
    }),
  );

  out.push('');
  out.push('### The guard step by step');
  out.push('');
  out.push(
    'Each step is the previous one plus one check, every request through passport and passport-jwt (a full ' +
      'verification each time: the step strategies remember no token) and the same Nest guard pipeline ' +
      '(bench/servers/bench.module.ts). The real guard takes a token it has verified before straight to its checks, ' +
      'without passport. CPU µs per request = 1 / (requests/s) at saturation on one server core; ' +
      '"added" is the difference to the step before. "Alone" is the same piece timed in a loop without a server ' +
      '(bench/micro.bench.ts); the gap is what Passport and Nest add around it.',
  );
  out.push('');
  const steps: Array<[string, string, string[]]> = [
    ['public', 'unguarded route', []],
    [
      'step-jwt',
      '+ passport, passport-jwt: extract, key by kid, HMAC verify, claims',
      ['key', 'jwt-keyobject', 'claims'],
    ],
    ['step-fingerprint', '+ fingerprint cookie: SHA-256, timingSafeEqual', ['fingerprint']],
    ['step-session', '+ session lookup and checks', ['find']],
    ['step-touch', '+ activity write on every request (SESSION_ACTIVITY_INTERVAL=0)', ['touch']],
  ];
  out.push(
    table(
      ['step', 'requests/s', 'µs/request', 'added µs', 'alone µs', 'framework µs'],
      steps.map(([id, label, pieces], i) => {
        const added = i === 0 ? NaN : us(id) - us(steps[i - 1][0]);
        const alone = pieces.reduce((sum, piece) => sum + microNs(piece) / 1000, 0);
        return [
          label,
          formatNumber(rps(id)),
          formatNumber(us(id)),
          i === 0 ? '' : formatNumber(added),
          i === 0 ? '' : formatNumber(alone),
          i === 0 ? '' : formatNumber(added - alone),
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    `The real guard (\`/bench/me\`: steps 1 to 3 for a token it has not seen, then its own checks without passport, plus the throttled activity check) costs ${formatNumber(us('guarded') - us('public'))} µs ` +
      `over the unguarded route; the real \`/auth/me\` adds ${formatNumber(us('auth-me') - us('guarded'))} µs for its user query.`,
  );
  out.push('');
  out.push(
    barChart({
      title: 'CPU µs per request, by step',
      labels: steps.map(([id]) => id),
      yLabel: 'µs/request',
      values: steps.map(([id]) => us(id)),
    }),
  );
  out.push('');
  out.push('Micro-benchmarks (median of 5 rounds):');
  out.push('');
  out.push(
    table(
      ['piece', 'ns/op'],
      micro.map((m) => [m.label, formatNumber(m.nsPerOp)]),
    ),
  );
  return out.join('\n');
}
