#!/usr/bin/env node
// `npm run start:dev`: node --watch restarts this on every change under src/; it rebuilds and runs
// the service.
const { join } = require('node:path');
const { execFileSync } = require('node:child_process');

const root = join(__dirname, '..');
execFileSync(process.execPath, [join(__dirname, 'build.js')], { cwd: root, stdio: 'inherit' });
require(join(root, 'dist', 'main.js'));
