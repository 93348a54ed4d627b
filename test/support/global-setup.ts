import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Builds dist/ once before the e2e suites when it is missing or stale, so suites that start the
 * real service as a process (`node dist/main.js`) never race each other to build it.
 */
export default function globalSetup(): void {
  execFileSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'build-if-needed.js')], {
    stdio: 'inherit',
  });
}
