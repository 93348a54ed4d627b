import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runCommand, startProcess } from '../support/process';
import { cookieOf, HostClient, PASSWORD } from './host-client';

/*
 * The package as a project gets it: `npm pack` (its prepack build included), installed from the
 * tarball into fresh host apps, one on NestJS 12 and one on NestJS 11, each compiled by its own
 * TypeScript with skipLibCheck false against the installed declarations, then run as a process
 * on Express and on Fastify and driven over loopback HTTP. The host's sources are in
 * test/fixtures/host-app/. Needs the npm registry; npm's cache stays in $TMPDIR between runs.
 */

const ROOT = join(__dirname, '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'host-app');
/** This repository's own node_modules: the build's tools and the compiled better-sqlite3. */
const REPO_MODULES = join(ROOT, 'node_modules');
const NPM_CACHE = join(tmpdir(), 'fingerprint-auth-npm-cache');
const MINUTE = 60_000;

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const repoPackage = readJson<{ devDependencies: Record<string, string> }>(
  join(ROOT, 'package.json'),
);
const betterSqlite3Version = readJson<{ version: string }>(
  join(REPO_MODULES, 'better-sqlite3', 'package.json'),
).version;

type HostName = 'nest12' | 'nest11';
type AdapterName = 'express' | 'fastify';
/** How the host wires the library (see the fixture's app.module.ts). */
type AuthVariant = 'global-guard' | 'async';

interface Host {
  readonly name: HostName;
  readonly dependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
  /** The fixture's tsconfig the host builds with (as its tsconfig.json), then further checks. */
  readonly tsconfig: string;
  readonly checks: string[];
}

const HOSTS: Host[] = [
  {
    // NestJS 12 with only what the host itself uses: npm installs the library's other peers.
    name: 'nest12',
    dependencies: {
      '@nestjs/common': '^12.0.0',
      '@nestjs/core': '^12.0.0',
      '@nestjs/platform-express': '^12.0.0',
      '@nestjs/platform-fastify': '^12.0.0',
      '@nestjs/schedule': '^12.0.0',
      'reflect-metadata': '^0.2.0',
      rxjs: '^7.8.0',
    },
    devDependencies: {
      typescript: repoPackage.devDependencies.typescript,
      '@types/node': repoPackage.devDependencies['@types/node'],
    },
    tsconfig: 'tsconfig.nest12.json',
    checks: [],
  },
  {
    // A NestJS 11 app: every NestJS package at its NestJS 11 major (the lower ends of the peer
    // ranges). @nestjs/swagger@11 is the one it must name: npm would pick 12, which needs NestJS 12.
    name: 'nest11',
    dependencies: {
      '@nestjs/common': '^11.0.0',
      '@nestjs/core': '^11.0.0',
      '@nestjs/platform-express': '^11.0.0',
      '@nestjs/platform-fastify': '^11.0.0',
      '@nestjs/jwt': '^11.0.0',
      '@nestjs/passport': '^11.0.0',
      '@nestjs/schedule': '^6.0.0',
      '@nestjs/swagger': '^11.0.0',
      '@nestjs/terminus': '^11.0.0',
      'reflect-metadata': '^0.2.0',
      rxjs: '^7.8.0',
    },
    devDependencies: {
      typescript: '^5.9.0',
      '@types/node': repoPackage.devDependencies['@types/node'],
    },
    tsconfig: 'tsconfig.nest11.json',
    checks: ['tsconfig.nest11.express.json'],
  },
];

/** Each host on each adapter, each host and each adapter with both ways of wiring the library. */
const RUNS: Array<{
  host: HostName;
  adapter: AdapterName;
  variant: AuthVariant;
  port: number;
}> = [
  { host: 'nest12', adapter: 'express', variant: 'global-guard', port: 7900 },
  { host: 'nest12', adapter: 'fastify', variant: 'async', port: 7901 },
  { host: 'nest11', adapter: 'express', variant: 'async', port: 7902 },
  { host: 'nest11', adapter: 'fastify', variant: 'global-guard', port: 7903 },
];

/** Where each variant mounts the library's routes. */
const PREFIX: Record<AuthVariant, string> = { 'global-guard': '', async: '/api' };

/** Packages of the service that a host's process must not load because of the library. */
const SERVICE_ONLY = ['helmet', 'pino'];
const FASTIFY_ONLY = /^(fastify|@fastify\/.*|@nestjs\/platform-fastify)$/;

/**
 * The environment for npm, tsc and the hosts: this process's, without what the `npm test` around
 * it set for its own scripts (npm_config_*, npm_package_*), which would steer the inner npm.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD' && key !== 'NODE_ENV') env[key] = value;
  }
  return { ...env, SCARF_ANALYTICS: 'false', ...extra };
}

/**
 * `npm pack` of a copy of the working tree (its node_modules linked, not copied), so that the
 * prepack build never touches the repository's dist/ that other suites run. Returns the tarball.
 */
async function pack(work: string): Promise<string> {
  const source = join(work, 'package');
  const skipped = new Set(['node_modules', 'dist', '.git', 'data', 'coverage', '.scratch']);
  cpSync(ROOT, source, {
    recursive: true,
    filter: (path) => !skipped.has(relative(ROOT, path).split(/[\\/]/)[0]),
  });
  symlinkSync(REPO_MODULES, join(source, 'node_modules'), 'dir');
  const destination = join(work, 'tarball');
  mkdirSync(destination);
  await runCommand('npm', ['pack', '--pack-destination', destination], {
    cwd: source,
    env: cleanEnv(),
    timeoutMs: 3 * MINUTE,
  });
  const [tarball] = readdirSync(destination).filter((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack wrote no tarball');
  return join(destination, tarball);
}

/**
 * better-sqlite3 would compile from source in every host (minutes: its prebuilt binaries are not
 * reachable here). Its installer, prebuild-install, first looks for
 * `<name>-v<version>-node-v<abi>-<platform>-<arch>.tar.gz` in the directory
 * `npm_config_better_sqlite3_local_prebuilds` names; this packs the binary already built in this
 * repository's node_modules as that file. The hosts pin better-sqlite3 to the same version (npm
 * `overrides`), so the binary is the one for that code. Without it (or on a libc whose name
 * prebuild-install adds), the hosts compile it, only slower.
 */
async function localPrebuilds(work: string): Promise<Record<string, string>> {
  const installed = join(REPO_MODULES, 'better-sqlite3');
  const binary = join('build', 'Release', 'better_sqlite3.node');
  if (!existsSync(join(installed, binary))) return {};
  const dir = join(work, 'prebuilds');
  mkdirSync(dir);
  const name = `better-sqlite3-v${betterSqlite3Version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await runCommand('tar', ['-czf', join(dir, name), '-C', installed, binary], {
    cwd: work,
    env: cleanEnv(),
    timeoutMs: MINUTE,
  });
  return { npm_config_better_sqlite3_local_prebuilds: dir };
}

/** Writes the host's package.json and sources, installs it from the registry and compiles it. */
async function buildHost(
  host: Host,
  dir: string,
  tarball: string,
  installEnv: NodeJS.ProcessEnv,
): Promise<void> {
  mkdirSync(dir);
  cpSync(join(FIXTURE, 'src'), join(dir, 'src'), { recursive: true });
  cpSync(join(FIXTURE, host.tsconfig), join(dir, 'tsconfig.json'));
  for (const check of host.checks) cpSync(join(FIXTURE, check), join(dir, check));
  const manifest = {
    name: `fingerprint-auth-host-${host.name}`,
    version: '1.0.0',
    private: true,
    dependencies: { ...host.dependencies, 'fingerprint-auth': `file:${tarball}` },
    devDependencies: host.devDependencies,
    overrides: { 'better-sqlite3': betterSqlite3Version },
    allowScripts: { 'better-sqlite3': true, '@scarf/scarf': false },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await runCommand('npm', ['install', '--no-audit', '--no-fund', '--cache', NPM_CACHE], {
    cwd: dir,
    env: installEnv,
    timeoutMs: 6 * MINUTE,
  });
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const project of ['tsconfig.json', ...host.checks]) {
    await runCommand(process.execPath, [tsc, '-p', project], {
      cwd: dir,
      env: cleanEnv(),
      timeoutMs: 90_000,
    });
  }
}

/** Every installed copy of each package under `nodeModules`, nested ones included. */
function installedCopies(nodeModules: string, found = new Map<string, string[]>()) {
  if (!existsSync(nodeModules)) return found;
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    const names = entry.startsWith('@')
      ? readdirSync(join(nodeModules, entry)).map((scoped) => `${entry}/${scoped}`)
      : [entry];
    for (const name of names) {
      const dir = join(nodeModules, name);
      if (!existsSync(join(dir, 'package.json'))) continue;
      found.set(name, [...(found.get(name) ?? []), dir]);
      installedCopies(join(dir, 'node_modules'), found);
    }
  }
  return found;
}

jest.setTimeout(2 * MINUTE);

describe('the packed package in fresh NestJS 11 and 12 host apps (e2e)', () => {
  let work: string;
  const hostDir = (name: HostName) => join(work, `host-${name}`);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'fpa-packed-host-'));
    const tarball = await pack(work);
    const installEnv = cleanEnv(await localPrebuilds(work));
    await Promise.all(
      HOSTS.map((host) => buildHost(host, hostDir(host.name), tarball, installEnv)),
    );
  }, 10 * MINUTE);

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true, maxRetries: 3 });
  });

  it.each(HOSTS.map((host) => host.name))(
    '%s: one copy of each NestJS package and of each peer, at the top',
    (name) => {
      const nodeModules = join(hostDir(name), 'node_modules');
      const copies = installedCopies(nodeModules);
      const peers = Object.keys(
        readJson<{ peerDependencies: Record<string, string> }>(
          join(nodeModules, 'fingerprint-auth', 'package.json'),
        ).peerDependencies,
      );
      const nest = [...copies.keys()].filter((pkg) => pkg.startsWith('@nestjs/'));
      for (const pkg of new Set([...peers, ...nest])) {
        expect([pkg, copies.get(pkg)]).toEqual([pkg, [join(nodeModules, pkg)]]);
      }
      expect(existsSync(join(nodeModules, 'fingerprint-auth', 'node_modules', '@nestjs'))).toBe(
        false,
      );
    },
  );

  it.each(RUNS)(
    '$host on $adapter ($variant): signs in, guards, refreshes, revokes, ends sessions',
    async ({ host: name, adapter, variant, port }) => {
      const dataDir = join(work, `data-${name}-${adapter}`);
      mkdirSync(dataDir);
      const started = await startProcess(process.execPath, [`dist/main-${adapter}.js`], {
        cwd: hostDir(name),
        env: cleanEnv({
          PORT: String(port),
          AUTH_VARIANT: variant,
          HOST_DATA_DIR: dataDir,
          HOST_JWT_SECRET: 'a-host-secret-long-and-random-enough-for-hs256-8d2f6b1e9c',
        }),
        ready: /^HOST_READY (.*)$/m,
        timeoutMs: MINUTE,
      });
      try {
        const ready = JSON.parse(started.ready[1]) as {
          packages: string[];
          cronJobs: string[] | null;
        };
        expectNoServicePackages(ready.packages, adapter);
        // With the host's ScheduleModule, the library's cleanup job is in the host's registry.
        expect(ready.cronJobs).toEqual(variant === 'async' ? ['session-cleanup'] : null);

        await signInGuardRefreshRevoke(
          new HostClient(`http://127.0.0.1:${port}`),
          PREFIX[variant],
          `${name}-${adapter}@example.com`,
        );
      } finally {
        await started.stop();
      }
      // Nor anything loaded while it served.
      const stopping = /^HOST_STOPPING (.*)$/m.exec(started.output());
      expect(stopping).not.toBeNull();
      expectNoServicePackages(
        (JSON.parse(stopping?.[1] ?? '{}') as { packages: string[] }).packages,
        adapter,
      );
      expect(started.output()).not.toMatch(/\bERROR\b/);
    },
  );
});

/**
 * The packages a host's process loaded: the library's, and none of the service's own (helmet,
 * pino), nor on Express anything of Fastify (installed in the host all the same).
 */
function expectNoServicePackages(packages: string[], adapter: AdapterName): void {
  expect(packages).toEqual(expect.arrayContaining(['fingerprint-auth', '@nestjs/core']));
  expect(packages.filter((pkg) => SERVICE_ONLY.includes(pkg))).toEqual([]);
  if (adapter === 'express') {
    expect(packages).toContain('@nestjs/platform-express');
    expect(packages.filter((pkg) => FASTIFY_ONLY.test(pkg))).toEqual([]);
  }
}

/** The flow every host must carry, over HTTP. */
async function signInGuardRefreshRevoke(
  host: HostClient,
  prefix: string,
  email: string,
): Promise<void> {
  // The host's public route answers without a token.
  const open = await host.get('/public');
  expect(open.status).toBe(200);
  expect(await open.json()).toEqual({ open: true });
  expect((await host.get('/me')).status).toBe(401);

  const registered = await host.post(`${prefix}/auth/register`, { email, password: PASSWORD });
  expect(registered.status).toBe(201);
  const { id } = (await registered.json()) as { id: string };

  // Login sets the fingerprint and refresh cookies; the host's guarded route takes both.
  const login = await host.login(prefix, email);
  expect(login.setCookies.find((cookie) => cookie.startsWith('fgp='))).toMatch(/HttpOnly/i);
  expect(login.setCookies.find((cookie) => cookie.startsWith('fpa_refresh='))).toMatch(
    new RegExp(`Path=${prefix}/auth/refresh(;|$)`),
  );
  const me = await host.get('/me', login.credentials);
  expect(me.status).toBe(200);
  expect(await me.json()).toEqual({
    user: { id, email, sessionId: login.sessionId },
    session: { id: login.sessionId, userId: id },
  });
  // The token without the browser's fingerprint cookie is refused.
  expect((await host.get('/me', { authorization: login.credentials.authorization })).status).toBe(
    401,
  );

  // Refresh: a new token and fingerprint for the same session, which the guard takes.
  const refreshed = await host.post(`${prefix}/auth/refresh`, undefined, {
    cookie: login.cookie('fpa_refresh'),
  });
  expect(refreshed.status).toBe(200);
  const renewed = (await refreshed.json()) as { accessToken: string; sessionId: string };
  expect(renewed.sessionId).toBe(login.sessionId);
  const current = {
    authorization: `Bearer ${renewed.accessToken}`,
    cookie: cookieOf(refreshed, 'fgp'),
  };
  expect((await host.get('/me', current)).status).toBe(200);

  // A session ended from another one: its token is refused at once.
  const other = await host.login(prefix, email);
  expect((await host.get('/me', other.credentials)).status).toBe(200);
  expect((await host.delete(`${prefix}/sessions/${other.sessionId}`, current)).status).toBe(204);
  expect((await host.get('/me', other.credentials)).status).toBe(401);
  expect((await host.get('/me', current)).status).toBe(200);

  // Logout everywhere else, then here: every token is refused.
  const third = await host.login(prefix, email);
  const all = await host.post(`${prefix}/sessions/logout-all`, undefined, current);
  expect(all.status).toBe(200);
  expect(await all.json()).toEqual({ revoked: 1 });
  expect((await host.get('/me', third.credentials)).status).toBe(401);
  expect((await host.get('/me', current)).status).toBe(200);
  expect((await host.post(`${prefix}/auth/logout`, undefined, current)).status).toBe(204);
  expect((await host.get('/me', current)).status).toBe(401);
}
