// node:timers' own, not the global: a host app's tests that fake the global timers
// (`jest.useFakeTimers()`) would otherwise see every login hang until they advanced them.
import { setImmediate } from 'node:timers';
import { Injectable } from '@nestjs/common';

/**
 * Pieces of work that cost the event loop a lot start one per turn of the event loop, in the
 * order they asked. A login is the case in point: its rate limits, body validation and user
 * query are code that runs too rarely to be optimised (about 0.5 ms of event-loop time before
 * its password hash). Fifty logins that arrive together would otherwise run that back to back
 * while every other request waits: a guarded request waited for all of them, about 25 ms on the
 * benchmark machine (BENCHMARKS.md, "Login storm"). Taking turns, each runs in a turn of its own
 * and the requests that arrived meanwhile are served between two of them; a login waits at most
 * for the ones before it, a few milliseconds against its hash's hundreds. The rate-limited routes
 * take a turn before their work (`AuthRateLimitGuard`). (The work after the hash needs none: the
 * hashing threads finish one login at a time each, and a turn there measured no better.)
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
