import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { BUILD_DIR } from './compile';

/** Messages a bench child sends its parent. */
export type ChildMessage =
  | { type: 'ready'; port: number; info?: Record<string, unknown> }
  | { type: 'failed'; message: string }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

export interface BenchChild {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly info: Record<string, unknown>;
  readonly process: ChildProcess;
  /** Sends a command to the child's IPC handler and resolves with its answer. */
  call<T>(command: string, args?: unknown, timeoutMs?: number): Promise<T>;
  output(): string;
  /** Asks the child to close its app and exit (so `--cpu-prof` writes its profile). */
  stop(): Promise<void>;
}

export class ChildStartError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

const ROOT = join(__dirname, '..', '..');

/** The loopback ports the children may listen on: 7800-7899, or BENCH_PORTS=<first>-<last> (to run
 *  next to something that holds those). */
function portRange(): { first: number; last: number } {
  const match = /^(\d+)-(\d+)$/.exec(process.env.BENCH_PORTS ?? '7800-7899');
  if (!match || Number(match[1]) > Number(match[2]))
    throw new Error(`BENCH_PORTS must be <first>-<last>, not ${process.env.BENCH_PORTS}`);
  return { first: Number(match[1]), last: Number(match[2]) };
}
const PORTS = portRange();
let nextPort = PORTS.first;

/** The next loopback port of the range this benchmark may use. */
export function allocatePort(): number {
  if (nextPort > PORTS.last)
    throw new Error(`bench: ran out of ports in ${PORTS.first}-${PORTS.last}`);
  return nextPort++;
}

/**
 * Runs `bench/servers/<script>.ts` in its own Node.js process (from the JavaScript that
 * `compileForChildren` wrote; call it first) and waits for it to listen. The child gets `{ port, ...config }` as JSON
 * in argv[2]. A port already taken makes it retry on the next one.
 */
export async function startChild(
  name: string,
  script: string,
  config: Record<string, unknown> = {},
  options: { execArgv?: string[]; readyTimeoutMs?: number } = {},
): Promise<BenchChild> {
  for (let attempt = 0; ; attempt++) {
    const port = allocatePort();
    try {
      return await startOnPort(name, script, port, config, options);
    } catch (error) {
      if (attempt < 5 && error instanceof ChildStartError && /EADDRINUSE/.test(error.message)) {
        continue;
      }
      throw error;
    }
  }
}

function startOnPort(
  name: string,
  script: string,
  port: number,
  config: Record<string, unknown>,
  options: { execArgv?: string[]; readyTimeoutMs?: number },
): Promise<BenchChild> {
  const child = fork(
    join(BUILD_DIR, 'bench', 'servers', `${script}.js`),
    [JSON.stringify({ port, ...config })],
    { execArgv: options.execArgv ?? [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], cwd: ROOT },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 100_000) output = output.slice(-50_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let nextId = 1;
  const pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    for (const { reject } of pending.values()) {
      reject(
        new Error(`${name} exited (${code ?? signal}) before answering:\n${output.slice(-2000)}`),
      );
    }
    pending.clear();
  });

  return new Promise<BenchChild>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ChildStartError(`${name} did not start within the time limit`, output));
    }, options.readyTimeoutMs ?? 90_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new ChildStartError(
          `${name} exited (${code ?? signal}) while starting:\n${output.slice(-2000)}`,
          output,
        ),
      );
    });
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'failed') {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new ChildStartError(message.message, output));
      } else if (message.type === 'ready') {
        clearTimeout(timer);
        resolve({
          name,
          port: message.port,
          url: `http://127.0.0.1:${message.port}`,
          info: message.info ?? {},
          process: child,
          output: () => output,
          call<T>(command: string, args?: unknown, timeoutMs = 600_000): Promise<T> {
            const id = nextId++;
            return new Promise<T>((resolveCall, rejectCall) => {
              const callTimer = setTimeout(() => {
                pending.delete(id);
                rejectCall(new Error(`${name}: ${command} took longer than ${timeoutMs} ms`));
              }, timeoutMs);
              pending.set(id, {
                resolve: (value) => {
                  clearTimeout(callTimer);
                  resolveCall(value as T);
                },
                reject: (error) => {
                  clearTimeout(callTimer);
                  rejectCall(error);
                },
              });
              child.send({ id, command, args });
            });
          },
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.send({ id: 0, command: 'exit' });
            const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
            await exited;
            clearTimeout(timeout);
          },
        });
      } else if (message.type === 'reply') {
        const waiter = pending.get(message.id);
        if (!waiter) return;
        pending.delete(message.id);
        if (message.ok) waiter.resolve(message.result);
        else waiter.reject(new Error(`${name}: ${message.error}`));
      }
    });
  });
}

/**
 * Runs `bench/<script>.ts` (compiled) in its own process to completion and resolves with the one result it
 * sends over IPC (used for measurements that need a clean heap or Node flags such as --expose-gc).
 */
export function runScript<T>(script: string, args: unknown, execArgv: string[] = []): Promise<T> {
  const child = fork(join(BUILD_DIR, 'bench', `${script}.js`), [JSON.stringify(args)], {
    execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    cwd: ROOT,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise<T>((resolve, reject) => {
    let result: { value: T } | null = null;
    child.on('message', (message: { type: string; result: T }) => {
      if (message.type === 'result') result = { value: message.result };
    });
    child.once('exit', (code) => {
      if (result) resolve(result.value);
      else
        reject(new Error(`${script} exited (${code}) without a result:\n${output.slice(-3000)}`));
    });
  });
}
