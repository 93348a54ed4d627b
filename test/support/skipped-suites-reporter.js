// A Jest reporter (next to the default one, see jest.config.js): after the summary it lists every
// suite that did not run because a service it needs is not configured, with what would run it.
// Skipped suites pass quietly otherwise, and with CI=true they fail with a one-line reason; either
// way this is where a newcomer learns which variable unlocks which suite. The suites are found by
// the titles `describeNeeding` (test/support/services.ts) gives them: keep the two in step.
const { relative } = require('node:path');

const SKIPPED = /^(.*) \[skipped: needs (.+)\]$/;
const FAILED_IN_CI = /^needs (.+) in CI$/;

/** How to provide each need, by the word it starts with. */
const HOW = {
  REDIS_URL_TEST: 'REDIS_URL_TEST=redis://127.0.0.1:6379 (a Redis the suites may write to)',
  DATABASE_URL_TEST:
    'DATABASE_URL_TEST=postgres://postgres@127.0.0.1:5432/test (each suite makes its own databases)',
  CHROMIUM_PATH: 'CHROMIUM_PATH=/usr/bin/chromium (a Chromium or Chrome executable)',
  'redis-server': 'redis-server and redis-cli on the PATH (e.g. apt-get install redis-server)',
  root: 'nothing, but run them as root (they mount a small tmpfs of their own, and unmount it)',
  'examples/nextjs/node_modules': 'up examples/nextjs/node_modules: npm ci --prefix examples/nextjs',
};

/** The suites of a run that need a service, as { need, file, suite, failed }. */
function suitesNeedingServices(results, rootDir) {
  const found = new Map();
  for (const file of results.testResults) {
    const path = relative(rootDir, file.testFilePath);
    for (const test of file.testResults) {
      let entry;
      if (test.status === 'pending') {
        const index = test.ancestorTitles.findIndex((title) => SKIPPED.test(title));
        if (index === -1) continue;
        const [, name, need] = SKIPPED.exec(test.ancestorTitles[index]);
        const suite = [...test.ancestorTitles.slice(0, index), name].join(' › ');
        entry = { need, file: path, suite, failed: false };
      } else if (test.status === 'failed' && FAILED_IN_CI.test(test.title)) {
        const [, need] = FAILED_IN_CI.exec(test.title);
        entry = { need, file: path, suite: test.ancestorTitles.join(' › '), failed: true };
      } else {
        continue;
      }
      found.set(`${entry.need}\0${entry.file}\0${entry.suite}`, entry);
    }
  }
  return [...found.values()];
}

/** The text printed at the end of a run; empty when every suite had what it needs. */
function report(entries) {
  if (entries.length === 0) return '';
  const byNeed = new Map();
  for (const entry of entries) {
    if (!byNeed.has(entry.need)) byNeed.set(entry.need, []);
    byNeed.get(entry.need).push(entry);
  }
  const lines = [
    '',
    `Suites that did not run: ${entries.length} need a service that is not configured.`,
  ];
  for (const [need, suites] of [...byNeed].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${need}: to run them, set ${HOW[need.split(' ')[0]] ?? need}`);
    for (const { file, suite, failed } of suites.sort((a, b) => a.file.localeCompare(b.file))) {
      lines.push(`    ${failed ? 'FAILED ' : 'skipped'}  ${file}  ${suite}`);
    }
  }
  lines.push(
    entries.some((entry) => entry.failed)
      ? 'With CI=true these fail instead of skipping: CI must run every suite.'
      : 'Without CI=true these are skipped; with it they fail (CI must run every suite).',
    '',
  );
  return lines.join('\n');
}

class SkippedSuitesReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_testContexts, results) {
    const text = report(suitesNeedingServices(results, this.rootDir));
    if (!text) return;
    // Jest always runs its summary reporter last, synchronously, right after this one: written on
    // the next turn of the event loop (or at exit, should that come first), the list ends the run.
    const print = () => {
      clearImmediate(soon);
      process.removeListener('exit', print);
      process.stderr.write(`${text}\n`);
    };
    const soon = setImmediate(print);
    process.once('exit', print);
  }
}

module.exports = SkippedSuitesReporter;
module.exports.suitesNeedingServices = suitesNeedingServices;
module.exports.report = report;
