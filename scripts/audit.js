#!/usr/bin/env node
// `npm run audit`: fails when an installed package has a known advisory (`npm audit`). Every
// package, dev ones included: the service runs on packages this repository lists as dev
// dependencies (the Fastify adapter, pino, helmet, the NestJS peers), so `--omit=dev` would skip
// the very server it ships. A host app audits the library's own dependencies with its own
// `npm audit --omit=dev`. When the registry's audit endpoint cannot be reached (some mirrors and
// closed networks answer 405 or nothing), says so and passes, unless AUDIT_REQUIRED=true: an
// unreachable endpoint is not a finding, but it is not a clean bill either.
const { spawnSync } = require('node:child_process');

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = spawnSync(npm, ['audit', '--json'], { encoding: 'utf8' });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  report = null;
}

if (report && typeof report.vulnerabilities === 'object' && report.vulnerabilities !== null) {
  const found = Object.values(report.vulnerabilities);
  if (found.length === 0) {
    console.log('audit: no known advisories for the installed packages');
    process.exit(0);
  }
  console.error(`audit: ${found.length} package(s) with known advisories:`);
  for (const { name, severity, range, via } of found) {
    const titles = via
      .map((entry) =>
        typeof entry === 'object' ? `${entry.title} (${entry.url})` : `via ${entry}`,
      )
      .join('; ');
    console.error(`  - ${name} ${range} [${severity}]: ${titles}`);
  }
  console.error('Run `npm audit` for details and `npm audit fix` to update.');
  process.exit(1);
}

const reason = report?.message ?? (run.stderr.trim().split('\n').pop() || 'no answer');
console.log(`audit: the registry's audit endpoint could not be used (${reason}).`);
console.log('audit: run `npm audit` where the npm registry answers audits.');
process.exit(process.env.AUDIT_REQUIRED === 'true' ? 1 : 0);
