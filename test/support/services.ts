/**
 * Suites that need a real Redis, PostgreSQL or Chromium. They run whenever REDIS_URL_TEST /
 * DATABASE_URL_TEST / CHROMIUM_PATH is set (CI always sets them). Unset outside CI, the suite is
 * reported as skipped with the reason; unset with CI=true, it fails: CI must never pass without
 * running them.
 */
type SuiteBody = (url: string) => void;

/**
 * A suite that needs something the repository cannot provide (`need`, such as
 * "REDIS_URL_TEST (Redis)"): it runs when `available`, is skipped otherwise, and fails instead
 * with CI=true. test/support/skipped-suites-reporter.js lists these suites at the end of a run by
 * the titles given here, `[skipped: needs …]` and `needs … in CI`: keep the two in step.
 */
export function describeNeeding(
  need: string,
  available: boolean,
  name: string,
  body: () => void,
): void {
  if (available) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${need} in CI`, () => {
        throw new Error(`${need} is missing: CI must run this suite`);
      });
    });
    return;
  }
  describe.skip(`${name} [skipped: needs ${need}]`, () => {
    it('needs a service', () => undefined);
  });
}

function describeWithService(variable: string, what: string, name: string, body: SuiteBody): void {
  const url = process.env[variable];
  describeNeeding(`${variable} (${what})`, Boolean(url), name, () => body(url as string));
}

export const redisUrl = (): string | undefined => process.env.REDIS_URL_TEST;
export const postgresUrl = (): string | undefined => process.env.DATABASE_URL_TEST;

export function describeWithRedis(name: string, body: SuiteBody): void {
  describeWithService('REDIS_URL_TEST', 'Redis', name, body);
}

export function describeWithPostgres(name: string, body: SuiteBody): void {
  describeWithService('DATABASE_URL_TEST', 'PostgreSQL', name, body);
}

/**
 * Suites that drive a real Chromium (Debian's, at CHROMIUM_PATH; playwright-core never downloads
 * one). Skipped outside CI when CHROMIUM_PATH is unset; with CI=true, unset fails.
 */
export function describeWithChromium(name: string, body: (executablePath: string) => void): void {
  describeWithService('CHROMIUM_PATH', 'Chromium', name, body);
}
