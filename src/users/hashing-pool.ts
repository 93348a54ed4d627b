import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** The lowest nice value on Linux (`nice 19`): the fallback where SCHED_IDLE cannot be set. */
export const HASHING_NICE = 19;

/**
 * util-linux's `chrt`, which puts one thread under SCHED_IDLE (`chrt --idle --pid 0 <tid>`);
 * Node.js has no call of its own for a thread's scheduling policy. Looked up at fixed paths only,
 * never through PATH. Debian always has it (util-linux is essential), and so do the Debian-based
 * Node.js images this project's Dockerfile builds on.
 */
const CHRT_PATHS = ['/usr/bin/chrt', '/bin/chrt'];

/** How a hashing thread is scheduled, as the kernel reports it (`/proc/thread-self/stat`). */
export interface ThreadPriority {
  /** Its nice value; null where the system refused to lower it. */
  readonly nice: number | null;
  /** Its scheduling policy (`idle` for SCHED_IDLE, `other` for the default); null off Linux. */
  readonly policy: string | null;
}

/**
 * What each worker runs. It lowers its own thread's priority first: on Linux a thread's
 * scheduling is its own, so the event loop (and everything else the process does) preempts the
 * hashing, which then takes the CPU time nobody else wants. Nice 19 alone is not enough: a core
 * busy with a nice-19 thread does not count as idle when the kernel places a waking thread, so
 * the event loop, woken by a request, can be queued behind some other busy process on the other
 * core instead of taking the one that only hashes (measured in BENCHMARKS.md, "Login storm").
 * Under SCHED_IDLE it does count as idle. The hashing itself is @node-rs/argon2's synchronous
 * call, so it runs on this thread (the asynchronous one would run on libuv's pool, at normal
 * priority). Plain CommonJS evaluated as the worker's source, so it runs the same from `dist/`
 * and under a test runner that compiles TypeScript in process.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { getPriority, setPriority } = require('node:os');
const { readFileSync, readlinkSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const argon2 = require(workerData.argon2);
const POLICIES = ['other', 'fifo', 'rr', 'batch', 'iso', 'idle', 'deadline'];
let nice = null;
try {
  setPriority(0, workerData.nice);
  nice = getPriority(0);
} catch {
  // Not allowed here (some container runtimes): hash at normal priority.
}
if (workerData.chrt !== null) {
  try {
    // /proc/thread-self names this thread; SCHED_IDLE needs no privilege.
    const tid = readlinkSync('/proc/thread-self').split('/').pop();
    execFileSync(workerData.chrt, ['--idle', '--pid', '0', tid], { stdio: 'ignore', timeout: 5000 });
  } catch {
    // Refused (a seccomp profile, say): nice alone.
  }
}
function policy() {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // Field 41 of proc(5), counted after the command name in parentheses (which may hold spaces).
    const policy = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38];
    return POLICIES[Number(policy)] ?? null;
  } catch {
    return null;
  }
}
parentPort.on('message', (task) => {
  try {
    let result;
    if (task.op === 'hash') result = argon2.hashSync(task.password, task.options);
    else if (task.op === 'verify') result = argon2.verifySync(task.hash, task.password);
    else result = { nice, policy: policy() };
    parentPort.postMessage({ id: task.id, result });
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) });
  }
});
`;

let chrt: string | null | undefined;

/**
 * `chrt` where this system has it (Linux only), else null: the workers keep nice 19 alone. Looked
 * up once, when the first worker starts; a replaced worker reuses the answer.
 */
export function chrtPath(): string | null {
  if (chrt === undefined) {
    chrt =
      process.platform === 'linux' ? (CHRT_PATHS.find((path) => existsSync(path)) ?? null) : null;
  }
  return chrt;
}

type Task =
  | { readonly op: 'hash'; readonly password: string; readonly options: object }
  | { readonly op: 'verify'; readonly hash: string; readonly password: string }
  | { readonly op: 'priority' };

interface Pending {
  readonly task: Task;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  readonly worker: Worker;
  /** The task it runs now; null when idle. */
  running: (Pending & { readonly id: number }) | null;
}

/**
 * A fixed number of worker threads that hash passwords at the lowest priority (SCHED_IDLE where
 * `chrt` exists, else nice 19), one task each at a time, the rest queued in order. Started on
 * first use, each unref'd (they never keep the process alive); a worker that dies fails its task
 * and is replaced on the next one; `close` ends them.
 */
export class HashingPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly size: number) {}

  hash(password: string, options: object): Promise<string> {
    return this.submit({ op: 'hash', password, options }) as Promise<string>;
  }

  verify(hash: string, password: string): Promise<boolean> {
    return this.submit({ op: 'verify', hash, password }) as Promise<boolean>;
  }

  /** How each worker is scheduled, as its thread reads it back from the kernel: for tests. */
  async priorities(): Promise<ThreadPriority[]> {
    const all = [];
    for (let i = 0; i < this.size; i++) all.push(this.submit({ op: 'priority' }));
    return (await Promise.all(all)) as ThreadPriority[];
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new Error('hashing pool closed'));
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private submit(task: Task): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('hashing pool closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.running === null) ?? this.spawn();
      if (slot === null) return;
      const pending = this.queue.shift() as Pending;
      const id = this.nextId++;
      slot.running = { ...pending, id };
      slot.worker.postMessage({ id, ...pending.task });
    }
  }

  /** A new worker while there are fewer than `size`; null when all are busy. */
  private spawn(): Slot | null {
    if (this.slots.length >= this.size) return null;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        argon2: require.resolve('@node-rs/argon2'),
        nice: HASHING_NICE,
        chrt: chrtPath(),
      },
    });
    worker.unref();
    const slot: Slot = { worker, running: null };
    worker.on('message', (message: { id: number; result?: unknown; error?: string }) => {
      const running = slot.running;
      if (running === null || running.id !== message.id) return;
      slot.running = null;
      if (message.error !== undefined) running.reject(new Error(message.error));
      else running.resolve(message.result);
      this.dispatch();
    });
    const fail = (error: Error) => {
      const at = this.slots.indexOf(slot);
      if (at !== -1) this.slots.splice(at, 1);
      slot.running?.reject(error);
      slot.running = null;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hashing worker exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }
}
