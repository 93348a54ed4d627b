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
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

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
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      ...data.env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      data.remove();
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`service exited with ${child.exitCode}:\n${output}`);
    try {
      const response = await fetch(`${url}/health/live`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service did not start within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    url,
    output: () => output,
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
