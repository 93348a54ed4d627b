#!/usr/bin/env node
// `npm run build`: a clean compile of src/ into dist/ with the TypeScript compiler: the library
// and the service as CommonJS (tsconfig.build.json), then the browser client, src/client, as ES
// modules into dist/client (tsconfig.client.json; the package's `fingerprint-auth/client`).
const { renameSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { execFileSync } = require('node:child_process');

const root = join(__dirname, '..');
const tsc = (project) =>
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], {
    cwd: root,
    stdio: 'inherit',
  });

const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
tsc('tsconfig.build.json');
// The client compiles with the contract types it imports (src/http/contract.ts) into a scratch
// directory; only its own files move to dist/client. Its declarations import
// `../http/contract.js`, which is the CommonJS build's dist/http/contract.d.ts: one set of contract
// types for both entries, and no ES module scope that the CommonJS declarations would reach into.
const scratch = join(dist, '.client-build');
tsc('tsconfig.client.json');
renameSync(join(scratch, 'client'), join(dist, 'client'));
rmSync(scratch, { recursive: true, force: true });
writeFileSync(join(dist, 'client', 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
