import type { LockManagerLike } from '../../src/client/cross-tab';

/**
 * The Web Locks API's exclusive mode within one process, for "tabs" simulated in Node (Node 20
 * has no `navigator.locks`): requests for one name are granted one at a time in the order they
 * were made, and `ifAvailable` gets `null` at once when the lock is held or queued for. The real
 * API is a browser's; the browser suite drives that one.
 */
export class InProcessLockManager implements LockManagerLike {
  /** How many requests were granted a lock (not `ifAvailable` ones that got `null`). */
  granted = 0;
  /** How many requests had to queue behind another holder. */
  waited = 0;
  readonly #tails = new Map<string, Promise<void>>();

  async request<T>(
    name: string,
    options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean },
    callback: (lock: unknown) => T | PromiseLike<T>,
  ): Promise<T> {
    const previous = this.#tails.get(name);
    if (previous !== undefined && options.ifAvailable) return callback(null);
    if (previous !== undefined) this.waited += 1;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const tail = (previous ?? Promise.resolve()).then(() => released);
    this.#tails.set(name, tail);
    await previous;
    this.granted += 1;
    try {
      return await callback({ name, mode: options.mode ?? 'exclusive' });
    } finally {
      release();
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    }
  }
}
