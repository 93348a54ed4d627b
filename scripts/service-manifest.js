#!/usr/bin/env node
// Turns package.json and package-lock.json (in the folder given, default the current one) into the
// standalone service's manifest, for the container image: the packages listed in package.json's
// "serviceDependencies" move from devDependencies to dependencies, in both files, with the ranges
// package.json gives them. Nothing else changes: every version, of these packages and of everything
// they pull in, stays the one package-lock.json pins, and `npm ci --omit=dev` (or `npm prune
// --omit=dev`) on the result installs the library's dependencies plus exactly these.
//
// Why: the library must not make its host apps install a web server, a logger and helmet, so
// package.json keeps the service's own packages (the Fastify adapter, Fastify, @fastify/static for
// the API docs, helmet, pino) as devDependencies. The service needs them at run time.
//
// Usage: node scripts/service-manifest.js [folder]    (rewrites the two files in that folder)
//        node scripts/service-manifest.js --list      (prints name@version from the lock, one a line)
const { readFileSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

function fail(message) {
  console.error(`service-manifest: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
const listOnly = args.includes('--list');
const dir = resolve(args.find((arg) => !arg.startsWith('--')) ?? '.');
const pkgPath = join(dir, 'package.json');
const lockPath = join(dir, 'package-lock.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));

const names = pkg.serviceDependencies;
if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string')) {
  fail('package.json has no "serviceDependencies" list of package names');
}
const root = lock.packages?.[''];
if (lock.lockfileVersion < 2 || !root) fail('package-lock.json is not lockfileVersion 2 or 3');

const pinned = [];
for (const name of names) {
  const range = pkg.devDependencies?.[name] ?? pkg.dependencies?.[name];
  if (!range) fail(`${name} is in serviceDependencies but not in devDependencies or dependencies`);
  const locked = lock.packages[`node_modules/${name}`];
  if (!locked?.version) fail(`${name} is not in package-lock.json: run npm install`);
  if (root.devDependencies?.[name] !== undefined && root.devDependencies[name] !== range) {
    fail(`${name}: package.json and package-lock.json disagree (${range}): run npm install`);
  }
  pinned.push({ name, range, version: locked.version });
}

if (listOnly) {
  for (const { name, version } of pinned) console.log(`${name}@${version}`);
  process.exit(0);
}

function move(manifest) {
  manifest.dependencies ??= {};
  for (const { name, range } of pinned) {
    if (manifest.devDependencies) delete manifest.devDependencies[name];
    manifest.dependencies[name] = range;
  }
  manifest.dependencies = Object.fromEntries(
    Object.entries(manifest.dependencies).sort(([a], [b]) => a.localeCompare(b, 'en')),
  );
}

move(pkg);
move(root);
// Which entries are dev-only is worked out again by npm from the root's edges; the flags in the
// lock are only its cache of that, so the entries these packages pull in lose theirs here.
for (const entry of Object.values(lock.packages)) {
  delete entry.dev;
  delete entry.devOptional;
}
writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
for (const { name, version } of pinned) console.log(`service-manifest: ${name}@${version}`);
