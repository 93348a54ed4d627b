import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const JEST = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');

/** Runs Jest as `npm test` would, on the given files, with no service configured. */
function runJest(files: string[], env: Record<string, string> = {}) {
  const inherited = { ...process.env };
  for (const name of ['REDIS_URL_TEST', 'DATABASE_URL_TEST', 'CHROMIUM_PATH', 'CI']) {
    delete inherited[name];
  }
  for (const name of Object.keys(inherited)) if (name.startsWith('JEST')) delete inherited[name];
  const run = spawnSync(
    process.execPath,
    [JEST, '--config', 'test/fixtures/jest.config.js', '--runInBand', ...files],
    { cwd: ROOT, env: { ...inherited, ...env }, encoding: 'utf8', timeout: 120_000 },
  );
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const SERVICE_SUITES = [
  'test/redis-session.repository.contract-spec.ts',
  'test/user-repository.postgres.contract-spec.ts',
];

/** The lines the skipped-suites reporter printed, from its heading on. */
const listing = (output: string) => output.slice(output.indexOf('Suites that did not run'));

describe('what a test run reports (Jest run with the repository configuration)', () => {
  it('lists each skipped suite with the variable that runs it, after the summary', () => {
    const { status, output } = runJest(SERVICE_SUITES);
    expect(status).toBe(0);
    expect(output.indexOf('Suites that did not run')).toBeGreaterThan(
      output.indexOf('Test Suites:'),
    );
    const list = listing(output);
    expect(list).toMatch(
      /DATABASE_URL_TEST \(PostgreSQL\): to run them, set DATABASE_URL_TEST=postgres:\/\/\S+/,
    );
    expect(list).toMatch(
      /skipped +test\/user-repository\.postgres\.contract-spec\.ts +UserRepository on PostgreSQL/,
    );
    expect(list).toMatch(/REDIS_URL_TEST \(Redis\): to run them, set REDIS_URL_TEST=redis:\/\/\S+/);
    expect(list).toMatch(
      /skipped +test\/redis-session\.repository\.contract-spec\.ts +RedisSessionRepository on one Redis server/,
    );
  });

  it('still lists them when CI=true fails them instead', () => {
    const { status, output } = runJest(SERVICE_SUITES, { CI: 'true' });
    expect(status).toBe(1);
    const list = listing(output);
    expect(list).toMatch(/FAILED +test\/user-repository\.postgres\.contract-spec\.ts/);
    expect(list).toMatch(/FAILED +test\/redis-session\.repository\.contract-spec\.ts/);
    expect(list).toContain('With CI=true these fail instead of skipping');
  });

  it('fails an e2e file whose app gave an answer its OpenAPI document does not list', () => {
    const { status, output } = runJest(['test/fixtures/undocumented-answer.fixture.ts']);
    expect(status).toBe(1);
    expect(output).toContain('Tests:       1 passed, 1 total');
    expect(output).toContain('Answers the OpenAPI document does not list');
    expect(output).toContain(
      'GET /tiny/conflict answered 418, and the document lists no 418 for it',
    );
    expect(output).not.toContain('Suites that did not run');
  });
});
