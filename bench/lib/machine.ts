import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { table } from './markdown';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memory: string;
  readonly node: string;
  readonly commit: string;
  readonly date: string;
  readonly command: string;
  readonly loadAverage: string;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** What the numbers were measured on, and how they were produced. */
export function machineInfo(): MachineInfo {
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  const script = process.env.npm_lifecycle_event;
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    commit: `${git(['rev-parse', '--short', 'HEAD'])}${dirty ? ' (with uncommitted changes)' : ''}`,
    date: new Date().toISOString(),
    command: script
      ? `npm run ${script}`
      : ['node', ...process.execArgv, ...process.argv.slice(1)].join(' '),
    loadAverage: loadavg()
      .map((value) => value.toFixed(2))
      .join(', '),
  };
}

/** The machine as a table, for the head of a generated section. */
export function machineTable(machine: MachineInfo): string {
  return table(
    ['machine', 'value'],
    [
      ['CPU', machine.cpu],
      ['cores', String(machine.cores)],
      ['memory', machine.memory],
      ['load average at start (1, 5, 15 min)', machine.loadAverage],
      ['Node.js', machine.node],
      ['commit', machine.commit],
    ],
  );
}
