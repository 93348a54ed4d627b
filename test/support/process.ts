import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MAIN = join(__dirname, '..', '..', 'dist', 'main.js');

/**
 * A temp DATA_DIR for a process started without one, so no test writes into the repository's
 * ./data (the default); `remove` deletes it once the process has exited. A suite that restarts the
 * service on the same data passes its own DATA_DIR (and removes it itself).
 */
function dataDirFor(env: Record<string, string>): { env: Record<string, string>; remove(): void } {
  if (env.DATA_DIR !== undefined) return { env, remove: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'fpa-process-data-'));
  return {
    env: { ...env, DATA_DIR: dir },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Every process started here and not yet exited: killed after the suite, so a failing test
 *  (one that throws before its own `stop`) never leaves a service holding its port. */
const running = new Set<ChildProcess>();
/** Those of them started in a process group of their own (`detached`). */
const groupLeaders = new WeakSet<ChildProcess>();
afterAll(() => {
  for (const child of running) killTree(child);
});

/** Kills `child` and, when it leads a process group of its own, everything in that group. */
function killTree(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (groupLeaders.has(child) && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // the group is gone already: kill the process alone
    }
  }
  child.kill('SIGKILL');
}

/** Spawns a process killed after the suite if still running; its output is collected. */
function spawnTracked(
  command: string,
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; detached?: boolean },
): { child: ChildProcess; output(): string; exited: Promise<number | null> } {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  running.add(child);
  if (options.detached === true) groupLeaders.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      output += `\n${error.message}`;
      running.delete(child);
      resolve(null);
    });
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  return { child, output: () => output, exited };
}

export interface CommandOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Killed (with everything it started) past this, and the promise rejects. */
  readonly timeoutMs: number;
}

/**
 * Runs a command to its end in a process group of its own (npm and the scripts it starts, say);
 * resolves with its output, rejects with it when the command fails or outlasts `timeoutMs`.
 */
export async function runCommand(
  command: string,
  args: string[],
  options: CommandOptions,
): Promise<string> {
  const { child, output, exited } = spawnTracked(command, args, { ...options, detached: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(child);
  }, options.timeoutMs);
  const code = await exited.finally(() => clearTimeout(timer));
  const what = `${command} ${args.join(' ')} (in ${options.cwd})`;
  if (timedOut)
    throw new Error(`${what} still running after ${options.timeoutMs} ms:\n${output()}`);
  if (code !== 0) throw new Error(`${what} exited with ${code}:\n${output()}`);
  return output();
}

export interface StartedProcess {
  readonly child: ChildProcess;
  /** The first match of `ready` in the process's output. */
  readonly ready: RegExpExecArray;
  output(): string;
  /** Sends a signal and resolves once the process has ended (killed if still running 15 s on). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a long-running process and resolves once its output matches `ready`; rejects with its
 * output when it exits first or does not get there within `timeoutMs` (then it is killed).
 */
export async function startProcess(
  command: string,
  args: string[],
  options: CommandOptions & { readonly ready: RegExp },
): Promise<StartedProcess> {
  const { child, output, exited } = spawnTracked(command, args, options);
  let ended = false;
  void exited.then(() => (ended = true));
  const deadline = Date.now() + options.timeoutMs;
  let ready: RegExpExecArray | null;
  while ((ready = options.ready.exec(output())) === null) {
    if (ended)
      throw new Error(`${command} ${args.join(' ')} exited before it was ready:\n${output()}`);
    if (Date.now() > deadline) {
      killTree(child);
      throw new Error(
        `${command} ${args.join(' ')} not ready within ${options.timeoutMs} ms:\n${output()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    ready,
    output,
    stop: async (signal = 'SIGTERM') => {
      if (!ended) child.kill(signal);
      const timer = setTimeout(() => killTree(child), 15_000);
      await exited.finally(() => clearTimeout(timer));
    },
  };
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  /** Sends a signal and resolves with the exit code once the process has ended. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs the built service (`node dist/main.js`) with the given environment until it answers
 * /health/live. Without DATA_DIR in `env` it gets a temp one, removed when the process ends.
 */
export async function startService(
  env: Record<string, string>,
  port: number,
): Promise<ServiceProcess> {
  const data = dataDirFor(env);
  const started = spawnTracked(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      ...data.env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
  });
  const { child } = started;
  const exited = started.exited.then((code) => {
    data.remove();
    return code;
  });
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`service exited with ${child.exitCode}:\n${started.output()}`);
    try {
      const response = await fetch(`${url}/health/live`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service did not start within 30 s:\n${started.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    url,
    output: started.output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Runs the built service expecting it to refuse to start; resolves with its exit code and output.
 * Without DATA_DIR in `env` it gets a temp one, removed when the process ends.
 */
export function runUntilExit(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const data = dataDirFor(env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', ...data.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      data.remove();
      resolve({ code, output });
    });
  });
}
