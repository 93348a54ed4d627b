import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** What library code may not import (see docs/api.md, "Module map"). */
const LIBRARY_LAYER = [
  {
    group: [
      '**/config',
      '**/config/*',
      '**/health/*',
      '**/app.module',
      '**/cli/*',
      '**/http/{bootstrap,json-body,openapi,http-timeouts,security-headers}',
      '**/observability/{logging,metrics.controller,metrics.listener,http-metrics}',
    ],
    message: 'Library code does not depend on the service.',
  },
  {
    group: ['fastify', '@fastify/*', '@nestjs/platform-*', 'helmet', 'pino'],
    message: "Library code runs on the host app's adapter: no adapter or service logger.",
  },
  {
    group: ['**/client/*'],
    message:
      'The server does not use the browser client; both sides share the types of src/http/contract.ts.',
  },
];

/**
 * What the browser client (src/client, published as `fingerprint-auth/client`) may import: its own
 * files and the contract types (src/http/contract.ts, as `import type`), nothing else. No package
 * (it has no runtime dependency) and nothing else of src (no Nest, class-validator or Node module
 * may reach a browser bundle).
 */
const CLIENT_LAYER = [
  {
    regex: '^(?!\\./|\\.\\./http/contract\\.js$)',
    message:
      'src/client imports only its own files (./…) and the contract types (../http/contract.js): no package, nothing else of src.',
  },
];

export default tseslint.config(
  // examples/ are apps of their own, checked by their own tools (`next build` type-checks).
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/.build/**', 'examples/**', '*.js', '*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  // Layers. The library (everything a host app gets from `FingerprintAuthModule`) imports nothing
  // of the service: not its environment, probes, bootstrap or logging, nor an HTTP adapter (a
  // host may run either). src/common is the bottom: it imports nothing else of src.
  {
    files: ['src/**/*.ts'],
    ignores: [
      '**/*.spec.ts',
      'src/main.ts',
      'src/app.module.ts',
      'src/client/**',
      'src/cli/**',
      'src/config/**',
      'src/health/**',
      'src/http/{bootstrap,json-body,openapi,http-timeouts,security-headers}.ts',
      'src/observability/{logging,metrics.controller,metrics.listener,http-metrics}.ts',
    ],
    rules: { 'no-restricted-imports': ['error', { patterns: LIBRARY_LAYER }] },
  },
  {
    files: ['src/common/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...LIBRARY_LAYER,
            { group: ['../*'], message: 'src/common imports nothing else of src.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/client/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: CLIENT_LAYER }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', '**/*.spec.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
