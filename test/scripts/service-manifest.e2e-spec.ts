import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * scripts/service-manifest.js, which the Dockerfile runs before `npm ci --omit=dev`, on copies of
 * this repository's package.json and package-lock.json: the service's packages move to
 * dependencies and nothing else changes, and npm's own plan for `npm ci --omit=dev` (a dry run,
 * which reads the lock only) then holds the library's dependencies plus exactly these, at the
 * versions the lock pins, and none of the dev tools.
 */
const ROOT = join(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'service-manifest.js');
const SERVICE = ['@nestjs/platform-fastify', 'fastify', '@fastify/static', 'helmet', 'pino'];

type Manifest = {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  serviceDependencies?: string[];
};
type Lock = {
  packages: Record<string, Manifest & { version?: string; dev?: boolean; devOptional?: boolean }>;
};

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

describe('scripts/service-manifest.js', () => {
  let dir: string;
  const original = readJson<Manifest>(join(ROOT, 'package.json'));
  const originalLock = readJson<Lock>(join(ROOT, 'package-lock.json'));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-service-manifest-'));
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    copyFileSync(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]) =>
    spawnSync(process.execPath, [SCRIPT, ...args], { cwd: dir, encoding: 'utf8' });

  /** npm's plan for `npm ci --omit=dev`, as name@version; it installs nothing. */
  function plan(): Set<string> {
    const npm = spawnSync(
      'npm',
      ['ci', '--omit=dev', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(npm.status).toBe(0);
    return new Set(
      [...npm.stdout.matchAll(/^add (\S+) (\S+)$/gm)].map(
        ([, name, version]) => `${name}@${version}`,
      ),
    );
  }

  it('lists the service packages of package.json with the versions package-lock.json pins', () => {
    expect(original.serviceDependencies).toEqual(SERVICE);
    const list = run('--list');
    expect(list.status).toBe(0);
    expect(list.stdout.trim().split('\n')).toEqual(
      SERVICE.map((name) => `${name}@${originalLock.packages[`node_modules/${name}`].version}`),
    );
  });

  it('moves them to dependencies in both files and changes nothing else', () => {
    expect(run().status).toBe(0);
    const pkg = readJson<Manifest>(join(dir, 'package.json'));
    const lock = readJson<Lock>(join(dir, 'package-lock.json'));
    for (const name of SERVICE) {
      expect(pkg.dependencies[name]).toBe(original.devDependencies[name]);
      expect(pkg.devDependencies[name]).toBeUndefined();
      expect(lock.packages[''].dependencies[name]).toBe(original.devDependencies[name]);
      expect(lock.packages[''].devDependencies[name]).toBeUndefined();
    }
    const withoutService = (deps: Record<string, string>) =>
      Object.fromEntries(Object.entries(deps).filter(([name]) => !SERVICE.includes(name)));
    expect(withoutService(pkg.dependencies)).toEqual(original.dependencies);
    expect(pkg.devDependencies).toEqual(withoutService(original.devDependencies));
    // Every entry of the lock keeps its version and integrity.
    for (const [path, entry] of Object.entries(originalLock.packages)) {
      expect(lock.packages[path]?.version).toBe(entry.version);
    }
    expect(Object.keys(lock.packages)).toEqual(Object.keys(originalLock.packages));
  });

  it("makes npm ci --omit=dev install the library's dependencies plus the service's packages, no dev tools", () => {
    const library = plan();
    expect(run().status).toBe(0);
    const service = plan();

    for (const name of SERVICE) {
      const pinned = `${name}@${originalLock.packages[`node_modules/${name}`].version}`;
      // @fastify/static is also an optional peer of @nestjs/swagger, which npm installs anyway.
      if (name !== '@fastify/static') expect(library.has(pinned)).toBe(false);
      expect(service.has(pinned)).toBe(true);
    }
    expect([...library].filter((entry) => !service.has(entry))).toEqual([]);
    for (const dev of ['jest', 'ts-jest', 'eslint', 'prettier', '@nestjs/testing', 'autocannon']) {
      expect([...service].filter((entry) => entry.startsWith(`${dev}@`))).toEqual([]);
    }
    // Everything planned is an entry of the lock at that version.
    const locked = new Set(
      Object.entries(originalLock.packages)
        .filter(([path]) => path !== '')
        .map(
          ([path, entry]) =>
            `${path.slice(path.lastIndexOf('node_modules/') + 13)}@${entry.version}`,
        ),
    );
    expect([...service].filter((entry) => !locked.has(entry))).toEqual([]);
  });

  it('refuses a package.json without the list, or a listed package the lock does not have', () => {
    const pkg = readJson<Manifest>(join(dir, 'package.json'));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ ...pkg, serviceDependencies: undefined }),
    );
    let result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no "serviceDependencies"');

    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        ...pkg,
        serviceDependencies: ['left-pad'],
        devDependencies: { ...pkg.devDependencies, 'left-pad': '^1.3.0' },
      }),
    );
    result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('left-pad is not in package-lock.json');
  });
});
