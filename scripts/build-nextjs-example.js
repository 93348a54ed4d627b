#!/usr/bin/env node
// Builds the Next.js example (examples/nextjs, `next build`) unless its last build was made from
// the same inputs: the example's files, its lock file, the installed Next.js and the built client
// (dist/client) it bundles. The hash of those inputs is kept beside the build, in
// examples/nextjs/.next. .ci/run calls this before `npm test`, so CI builds once before the suites
// run side by side; test/browser/nextjs.e2e-spec.ts calls it too, so a local run builds when
// needed and otherwise finds the build ready. Needs `npm run build` at the root (dist/client) and
// `npm ci --prefix examples/nextjs` first.
//
// `--timeout <seconds>` bounds the build (default 300): past it the build and its workers are
// killed and this exits with 1.
const { spawn } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const example = join(root, 'examples', 'nextjs');
const stamp = join(example, '.next', 'fingerprint-auth-inputs.sha256');
/** Not inputs: what npm and Next.js write, and prose. */
const SKIPPED = new Set(['node_modules', '.next', 'next-env.d.ts', 'README.md']);

function filesUnder(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name) || entry.name.endsWith('.tsbuildinfo')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else if (entry.isFile()) found.push(path);
  }
  return found.sort();
}

function inputsHash() {
  const nextPackage = join(example, 'node_modules', 'next', 'package.json');
  const hash = createHash('sha256');
  for (const file of [
    ...filesUnder(example),
    ...filesUnder(join(root, 'dist', 'client')),
    nextPackage,
  ]) {
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

function fail(message) {
  console.error(`build-nextjs-example: ${message}`);
  process.exit(1);
}

const timeoutArg = process.argv.indexOf('--timeout');
const timeoutSeconds = timeoutArg === -1 ? 300 : Number(process.argv[timeoutArg + 1]);
if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) fail('--timeout wants seconds');
if (!existsSync(join(root, 'dist', 'client', 'index.js'))) {
  fail('dist/client is missing: run `npm run build` at the root first');
}
if (!existsSync(join(example, 'node_modules', 'next', 'package.json'))) {
  fail('examples/nextjs has no dependencies: run `npm ci --prefix examples/nextjs` first');
}

const inputs = inputsHash();
if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === inputs) {
  console.log('build-nextjs-example: examples/nextjs/.next is up to date');
  process.exit(0);
}

console.log('build-nextjs-example: next build (examples/nextjs)');
rmSync(stamp, { force: true }); // a build that fails half-way is never taken for a good one
const started = Date.now();
const child = spawn(
  process.execPath,
  [require.resolve('next/dist/bin/next', { paths: [example] }), 'build'],
  {
    cwd: example,
    // NODE_ENV as `next build` wants it (Jest, for one, sets `test`); no telemetry.
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
    stdio: 'inherit',
    // Its own process group, so that a timeout ends the build's workers as well.
    detached: true,
  },
);
const timer = setTimeout(() => {
  console.error(`build-nextjs-example: next build still running after ${timeoutSeconds} s; killed`);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}, timeoutSeconds * 1000);
// If this script is stopped, the build goes with it.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    process.exit(1);
  });
}
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  if (code !== 0) fail(`next build failed (${signal ?? `exit code ${code}`})`);
  // Hashed again: `next build` may have completed tsconfig.json.
  writeFileSync(stamp, `${inputsHash()}\n`);
  console.log(`build-nextjs-example: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
});
