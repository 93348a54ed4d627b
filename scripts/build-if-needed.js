#!/usr/bin/env node
// `npm start` runs this first: build once when dist/ is missing or older than any file in src/.
const { statSync, readdirSync, existsSync } = require('node:fs');
const { join } = require('node:path');
const { execFileSync } = require('node:child_process');

const root = join(__dirname, '..');
const entry = join(root, 'dist', 'main.js');
const clientEntry = join(root, 'dist', 'client', 'index.js');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

const stale = (file) => !existsSync(file) || statSync(file).mtimeMs < newestMtime(join(root, 'src'));
if (stale(entry) || stale(clientEntry)) {
  console.error('fingerprint-auth: building (dist/ is missing or older than src/)...');
  execFileSync(process.execPath, [join(__dirname, 'build.js')], { cwd: root, stdio: 'inherit' });
}
