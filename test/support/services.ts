/**
 * Suites that need a real Redis or PostgreSQL. They run whenever REDIS_URL_TEST / DATABASE_URL_TEST
 * is set (CI always sets both). Unset outside CI, the suite is reported as skipped with the reason;
 * unset with CI=true, it fails: CI must never pass without running them.
 */
type SuiteBody = (url: string) => void;

function describeWithService(variable: string, what: string, name: string, body: SuiteBody): void {
  const url = process.env[variable];
  if (url) {
    describe(name, () => body(url));
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${variable} (${what}) in CI`, () => {
        throw new Error(`${variable} is not set: CI must run the ${what} suites`);
      });
    });
    return;
  }
  describe.skip(`${name} [skipped: set ${variable} to run against ${what}]`, () => {
    it('needs a service', () => undefined);
  });
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
