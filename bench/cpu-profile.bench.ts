import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import * as jwt from 'jsonwebtoken';
import { BenchChild, startChild } from './lib/children';
import { BUILD_DIR } from './lib/compile';
import { BenchContext, startBenchApp, USER_AGENT } from './lib/context';
import { signIn } from './lib/http-client';
import { closedLoop, Target } from './lib/load';
import { table } from './lib/markdown';
import { formatNumber } from './lib/stats';
import { UNGUARDED_BODY } from './servers/bench.module';

interface CpuProfile {
  nodes: Array<{
    id: number;
    hitCount?: number;
    children?: number[];
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  readonly fn: string;
  readonly where: string;
  readonly selfPercent: number;
  readonly usPerRequest: number;
}

export interface ProfileResult {
  readonly label: string;
  readonly requests: number;
  readonly rps: number;
  readonly rows: ProfileRow[];
  readonly areas: AreaRow[];
}

export interface AreaRow {
  readonly area: string;
  readonly percent: number;
  readonly usPerRequest: number;
}

/**
 * Where a sample's time goes: the innermost frame on its stack that belongs to one of these
 * (so Node's HMAC called by jwa counts as the JWT library, and a session lookup called from the
 * strategy as the session store). First match from the leaf wins; order only breaks ties.
 * Unmatched frames (natives, Node's crypto and buffers) are skipped on the way up.
 */
const AREAS: Array<[string, (url: string, fn: string) => boolean]> = [
  ['session store (src/sessions)', (url) => /\/src\/sessions\//.test(url)],
  ['fingerprint check (src/auth/fingerprint.service)', (url) => /fingerprint\.service/.test(url)],
  ['JwtStrategy.validate, claims (src/auth)', (url) => /\/src\/auth\/jwt\.strategy/.test(url)],
  [
    'JWT library (jsonwebtoken, jws, jwa, with Node crypto)',
    (url) => /node_modules\/(jsonwebtoken|jws|jwa)\//.test(url),
  ],
  [
    'Passport (passport, passport-jwt)',
    (url) => /node_modules\/(passport|passport-jwt|passport-strategy)\//.test(url),
  ],
  [
    'Nest guard glue (@nestjs/passport, JwtAuthGuard)',
    (url) => /@nestjs\/passport|\/src\/auth\/jwt-auth\.guard/.test(url),
  ],
  ['bench routes and guards (bench/servers)', (url) => /\/bench\/servers\//.test(url)],
  ['security headers (helmet)', (url) => /node_modules\/(@fastify\/)?helmet\//.test(url)],
  ['cookies (@fastify/cookie)', (url) => /@fastify\/cookie|node_modules\/cookie\//.test(url)],
  ['Nest (core, common, platform-fastify)', (url) => /node_modules\/@nestjs\//.test(url)],
  [
    'Fastify',
    (url) => /node_modules\/(fastify|find-my-way|avvio|light-my-request|@fastify\/)/.test(url),
  ],
  ['rest of src/', (url) => /\/src\//.test(url)],
  // Node's own crypto, buffers and utilities are charged to whoever called them (above); only
  // the HTTP and socket layers are an area of their own.
  [
    'Node.js http, net, streams',
    (url) => /^node:(_http_|net|internal\/(stream|streams|http|net|js_stream))/.test(url),
  ],
  ['garbage collector', (_url, fn) => fn === '(garbage collector)'],
];

const ROOT = join(__dirname, '..');
const TOP = 15;

/**
 * `node --cpu-prof` on a server process under closed-loop load, summarised as the functions
 * with the most self time. Profiles are kept in bench/.build/profiles/ for a closer look
 * (Chrome DevTools, speedscope).
 */
export async function cpuProfiles(
  context: BenchContext,
): Promise<{ results: ProfileResult[]; markdown: string }> {
  const seconds = context.settings.profileSec;
  const dir = join(BUILD_DIR, 'profiles');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const profiled = (name: string) => [
    '--cpu-prof',
    '--cpu-prof-dir',
    dir,
    '--cpu-prof-name',
    `${name}.cpuprofile`,
  ];

  const results: ProfileResult[] = [];
  const run = async (
    name: string,
    label: string,
    child: BenchChild,
    target: (child: BenchChild) => Promise<Target>,
  ) => {
    try {
      const t = await target(child);
      await closedLoop(t, { durationSec: 1 });
      // Only samples taken under the measured load count (the profile starts with the process).
      // CPU-profile timestamps and hrtime share the monotonic clock, in µs here.
      const from = Number(process.hrtime.bigint() / 1000n);
      const { rps, requests } = await closedLoop(t, { durationSec: seconds });
      const to = Number(process.hrtime.bigint() / 1000n);
      await child.stop();
      const profile = JSON.parse(
        readFileSync(join(dir, `${name}.cpuprofile`), 'utf8'),
      ) as CpuProfile;
      results.push({ label, requests, rps, ...summarise(profile, requests, from, to) });
    } finally {
      await child.stop();
    }
  };

  context.log(`profile: unguarded route, ${seconds} s`);
  await run(
    'unguarded',
    'unguarded route (`/bench/public`, the ceiling)',
    await startBenchApp(context, 'app (profiled, unguarded)', {}, profiled('unguarded')),
    async (app) => unguardedTarget('unguarded', app),
  );
  context.log(`profile: guarded route, ${seconds} s`);
  await run(
    'guarded',
    'guarded route (`/bench/me`, memory store)',
    await startBenchApp(context, 'app (profiled)', {}, profiled('guarded')),
    async (app) => {
      const user = await signIn(app.url, 'bench-profile@example.com');
      return {
        id: 'guarded',
        label: 'guarded',
        url: app.url,
        path: '/bench/me',
        headers: user.headers,
        body: JSON.stringify({ id: user.userId, sessionId: user.sessionId }),
      };
    },
  );
  context.log(`profile: baseline A, ${seconds} s`);
  await run(
    'baseline-a',
    'baseline A (passport-jwt as in the NestJS docs)',
    await startChild(
      'baseline A (profiled)',
      'baseline-passport',
      { secret: context.secret },
      { execArgv: profiled('baseline-a') },
    ),
    async (child) => {
      const token = jwt.sign({ sub: 'user', sid: 'session' }, context.secret, { expiresIn: '1h' });
      return {
        id: 'baseline-a',
        label: 'baseline A',
        url: child.url,
        path: '/bench/me',
        headers: { authorization: `Bearer ${token}`, 'user-agent': USER_AGENT },
        body: JSON.stringify({ id: 'user', sessionId: 'session' }),
      };
    },
  );
  context.log(`profile: bare NestJS on Fastify, ${seconds} s`);
  await run(
    'nest-fastify',
    'bare NestJS on Fastify (`/bench/public` of baseline A, what the unguarded route is held against)',
    await startChild(
      'bare NestJS (profiled)',
      'baseline-passport',
      { secret: context.secret, body: UNGUARDED_BODY },
      { execArgv: profiled('nest-fastify') },
    ),
    async (child) => unguardedTarget('nest-fastify', child),
  );
  const files = readdirSync(dir).filter((file) => file.endsWith('.cpuprofile'));
  return {
    results,
    markdown: render(
      results,
      seconds,
      files.map((file) => relative(ROOT, join(dir, file))),
    ),
  };
}

/** `GET /bench/public` of a server: the same unguarded answer from the service or a baseline. */
function unguardedTarget(id: string, server: BenchChild): Target {
  return {
    id,
    label: id,
    url: server.url,
    path: '/bench/public',
    headers: { 'user-agent': USER_AGENT },
    body: JSON.stringify(UNGUARDED_BODY),
  };
}

/** Self time per function (samples that landed in it) between `from` and `to`, heaviest first. */
function summarise(
  profile: CpuProfile,
  requests: number,
  from: number,
  to: number,
): { rows: ProfileRow[]; areas: AreaRow[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  const areaHits = new Map<string, number>();
  const hits = new Map<string, { fn: string; where: string; count: number }>();
  let total = 0;
  let inWindow = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) continue;
    inWindow++;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    total++;
    const where = url ? `${shorten(url)}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = hits.get(key) ?? { fn: functionName || '(anonymous)', where, count: 0 };
    entry.count++;
    hits.set(key, entry);
    const area = areaOf(byId, parentOf, profile.samples[i]);
    areaHits.set(area, (areaHits.get(area) ?? 0) + 1);
  }
  if (inWindow === 0) throw new Error('no profile samples fell inside the measured load');
  const sampleUs = (to - from) / inWindow;
  const rows = [...hits.values()]
    .sort((a, b) => b.count - a.count)
    .slice(0, TOP)
    .map((entry) => ({
      fn: entry.fn,
      where: entry.where,
      selfPercent: (entry.count / total) * 100,
      usPerRequest: (entry.count * sampleUs) / requests,
    }));
  const areas = [...areaHits.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, count]) => ({
      area,
      percent: (count / total) * 100,
      usPerRequest: (count * sampleUs) / requests,
    }));
  return { rows, areas };
}

function areaOf(
  byId: Map<number, CpuProfile['nodes'][number]>,
  parentOf: Map<number, number>,
  leaf: number,
): string {
  for (let id: number | undefined = leaf; id !== undefined; id = parentOf.get(id)) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) break;
    const area = AREAS.find(([, test]) => test(frame.url, frame.functionName));
    if (area) return area[0];
  }
  return 'other (program, natives)';
}

/** `node_modules/<package>/…` or the path under the repository, without the build directory. */
function shorten(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf(`node_modules${sep}`);
  if (modules !== -1) return path.slice(modules + 'node_modules/'.length);
  if (path.startsWith(BUILD_DIR)) return relative(BUILD_DIR, path).replace(/\.js$/, '.ts');
  return path.startsWith('node:') ? path : relative(ROOT, path) || path;
}

function render(results: ProfileResult[], seconds: number, files: string[]): string {
  const out = ['## CPU profiles', ''];
  if (results.length === 0) {
    out.push(
      'Not taken in quick mode: `npm run bench` profiles the unguarded and guarded routes, baseline A and the bare NestJS route.',
    );
    return out.join('\n');
  }
  out.push(
    `\`node --cpu-prof\` on the server process under closed-loop load (${seconds} s after a 1 s warm-up; only samples from the ` +
      `measured seconds), top ${TOP} functions by self time (idle excluded). µs/request spreads a function's samples over the requests served. Profiles: ${files.map((file) => `\`${file}\``).join(', ')}.`,
  );
  for (const result of results) {
    out.push('');
    out.push(`**${result.label}**: ${formatNumber(result.rps)} requests/s while profiled.`);
    out.push('');
    out.push('Where the time goes (each sample charged to the innermost area on its stack):');
    out.push('');
    out.push(
      table(
        ['area', 'share', 'µs/request'],
        result.areas.map((row) => [
          row.area,
          `${row.percent.toFixed(1)}%`,
          formatNumber(row.usPerRequest),
        ]),
      ),
    );
    out.push('');
    out.push(`Top ${TOP} functions by self time:`);
    out.push('');
    out.push(
      table(
        ['function', 'where', 'self %', 'µs/request'],
        result.rows.map((row) => [
          `\`${row.fn}\``,
          row.where ? `\`${row.where}\`` : '',
          row.selfPercent.toFixed(1),
          formatNumber(row.usPerRequest),
        ]),
      ),
    );
  }
  return out.join('\n');
}
