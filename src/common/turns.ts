import { Injectable } from '@nestjs/common';

/**
 * Requests that cost the event loop a lot of work (a login: rate limits, body validation, the
 * user's query, the session and the token, in code that runs too rarely to be optimised) start
 * one per turn of the event loop, in the order they asked. Fifty logins that arrive together
 * would otherwise run back to back while every other request waits: a guarded request waited
 * for all of them, about 25 ms on the benchmark machine (BENCHMARKS.md, "Login storm"). Taking
 * turns, each login's work runs in a turn of its own and the requests that arrived meanwhile
 * are served between two of them; a login waits at most for the ones before it, a few
 * milliseconds against its password hash's hundreds.
 */
@Injectable()
export class Turns {
  private readonly waiting: Array<() => void> = [];
  private scheduled = false;

  /** Resolves in a later turn of the event loop than the callers before it. */
  take(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.release);
      }
    });
  }

  /** Lets the first waiting caller go; the next one goes in the next turn. */
  private readonly release = (): void => {
    this.waiting.shift()?.();
    if (this.waiting.length > 0) setImmediate(this.release);
    else this.scheduled = false;
  };
}
