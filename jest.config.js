/**
 * Unit specs live beside the code; e2e specs and the contract suites every storage adapter passes
 * live in test/. `npm test` runs them all.
 */
const common = {
  moduleFileExtensions: ['js', 'mjs', 'cjs', 'json', 'ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/../tsconfig.spec.json' }],
    '^.+\\.m?js$': '<rootDir>/../test/support/esm-transformer.js',
  },
  // Every file may need it (see esm-transformer.js); CommonJS files pass through untouched.
  transformIgnorePatterns: [],
  testEnvironment: 'node',
};

module.exports = {
  testTimeout: 60_000,
  // After the summary: each suite skipped (or, with CI=true, failed) for want of a service, and the
  // variable that would run it.
  reporters: ['default', '<rootDir>/test/support/skipped-suites-reporter.js'],
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: 'src',
      testRegex: '.*\\.spec\\.ts$',
      // src/client is written as ES modules (`./errors.js` for errors.ts); its specs run the .ts.
      moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    },
    {
      ...common,
      displayName: 'e2e',
      rootDir: 'test',
      testRegex: '.*\\.e2e-spec\\.ts$',
      globalSetup: '<rootDir>/support/global-setup.ts',
      // After each file: every answer its in-process apps gave is one the OpenAPI document lists.
      setupFilesAfterEnv: ['<rootDir>/support/documented-responses.setup.ts'],
    },
    { ...common, displayName: 'contract', rootDir: 'test', testRegex: '.*\\.contract-spec\\.ts$' },
  ],
};
