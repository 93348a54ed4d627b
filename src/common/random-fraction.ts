import { randomFillSync } from 'node:crypto';

/**
 * A source of random fractions in [0, 1) in steps of 1/256, from the system's CSPRNG, for
 * `ulid`'s factories. ulid's own source asks `crypto.getRandomValues` for one byte per character:
 * sixteen calls through Web Crypto for every id (about 5 µs each here: 75 µs an id, on the event
 * loop, for every audit event). This one fills a pool of bytes at a time and hands them out one
 * by one (under 2 µs an id); the values are the same kind of bytes ulid would have drawn, read
 * the same way (byte / 256).
 */
export function randomFractions(poolBytes = 256): () => number {
  const pool = Buffer.allocUnsafe(poolBytes);
  let next = poolBytes;
  return () => {
    if (next === poolBytes) {
      randomFillSync(pool);
      next = 0;
    }
    return pool[next++] / 256;
  };
}
