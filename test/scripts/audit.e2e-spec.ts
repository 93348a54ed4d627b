import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * scripts/audit.js against a stand-in `npm` first on the PATH that prints a canned
 * `npm audit --json` report, so every outcome is exercised without the registry.
 */
const SCRIPT = join(__dirname, '..', '..', 'scripts', 'audit.js');

const FOUND = {
  auditReportVersion: 2,
  vulnerabilities: {
    ioredis: {
      name: 'ioredis',
      severity: 'high',
      range: '<6.0.0',
      via: [{ title: 'Uncontrolled Recursion', url: 'https://example.test/advisory/1' }],
    },
  },
  metadata: { vulnerabilities: { high: 1, total: 1 } },
};
const CLEAN = { auditReportVersion: 2, vulnerabilities: {}, metadata: {} };
const UNREACHABLE = {
  message:
    '405 Method Not Allowed - POST https://registry.example/-/npm/v1/security/advisories/bulk',
  statusCode: 405,
};

describe('npm run audit (scripts/audit.js)', () => {
  let bin: string;

  beforeEach(() => {
    bin = mkdtempSync(join(tmpdir(), 'fpa-audit-'));
  });

  afterEach(() => rmSync(bin, { recursive: true, force: true }));

  function audit(report: unknown, exitCode: number, env: Record<string, string> = {}) {
    writeFileSync(join(bin, 'report.json'), JSON.stringify(report));
    const npm = join(bin, 'npm');
    writeFileSync(
      npm,
      `#!/bin/sh\n[ "$1 $2" = "audit --json" ] || exit 99\ncat "${join(bin, 'report.json')}"\nexit ${exitCode}\n`,
    );
    chmodSync(npm, 0o755);
    return spawnSync(process.execPath, [SCRIPT], {
      encoding: 'utf8',
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, ...env },
    });
  }

  it('fails and names the package and advisory when an installed package has one', () => {
    const result = audit(FOUND, 1);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ioredis <6.0.0 [high]: Uncontrolled Recursion');
  });

  it('passes when there are none', () => {
    const result = audit(CLEAN, 0);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('no known advisories');
  });

  it('says the endpoint could not be used, and passes unless AUDIT_REQUIRED=true', () => {
    const lenient = audit(UNREACHABLE, 1);
    expect(lenient.status).toBe(0);
    expect(lenient.stdout).toContain('could not be used (405 Method Not Allowed');
    expect(audit(UNREACHABLE, 1, { AUDIT_REQUIRED: 'true' }).status).toBe(1);
  });
});
