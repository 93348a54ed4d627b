import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const TASKSET_PATHS = ['/usr/bin/taskset', '/bin/taskset'];

/** How the CPUs were shared out, for the report; null when they were not (no taskset, one core). */
export interface Pinning {
  readonly serverCpu: number;
  readonly clientCpus: string;
  /** Gives this process (the load generator) every CPU again. */
  restore(): void;
}

/**
 * Puts a server process (every thread it has and will start) on the last CPU and this process
 * (the load generator) and the given client processes on the others, with util-linux's
 * `taskset`. Without it the kernel places the server's threads: a woken event loop lands next
 * to the spinning load generator now and then and waits for its time slice, and a part that
 * measures how much the server's own background threads delay it would measure that instead.
 * Null (nothing pinned) off Linux, without taskset or on one CPU.
 */
export function pinServer(serverPid: number, clientPids: readonly number[]): Pinning | null {
  const taskset = TASKSET_PATHS.find((path) => existsSync(path));
  const cpus = availableParallelism();
  if (process.platform !== 'linux' || taskset === undefined || cpus < 2) return null;
  const serverCpu = cpus - 1;
  const clientCpus = cpus === 2 ? '0' : `0-${cpus - 2}`;
  const pin = (pid: number, list: string) =>
    execFileSync(taskset, ['--all-tasks', '--pid', '--cpu-list', list, String(pid)], {
      stdio: 'ignore',
    });
  pin(serverPid, String(serverCpu));
  for (const pid of [process.pid, ...clientPids]) pin(pid, clientCpus);
  return {
    serverCpu,
    clientCpus,
    restore: () => pin(process.pid, `0-${cpus - 1}`),
  };
}
