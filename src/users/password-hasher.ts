import { availableParallelism } from 'node:os';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { ConcurrencyLimit } from '../common/concurrency-limit';

/** OWASP's argon2id minimum: 19 MiB memory, 2 iterations, 1 lane. */
export const ARGON2_OPTIONS = {
  algorithm: Algorithm.Argon2id,
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
} as const;

/**
 * Hashes run at once: one core fewer than the machine has (at least one). Each argon2id run keeps
 * a core busy for tens of milliseconds; with libuv's four threads all hashing, a login storm on a
 * two-core machine starved the event loop and guarded requests waited ~20x longer (bench/,
 * login storm). Logins beyond the limit wait their turn instead.
 */
export const HASH_CONCURRENCY = Math.max(1, availableParallelism() - 1);

/**
 * argon2id password hashing on libuv's thread pool (never on the event loop), at most
 * `HASH_CONCURRENCY` at a time. The whole password is hashed: nothing is truncated.
 */
export class PasswordHasher {
  private dummyHash?: Promise<string>;
  private readonly limit = new ConcurrencyLimit(HASH_CONCURRENCY);

  hash(password: string): Promise<string> {
    return this.limit.run(() => hash(password, ARGON2_OPTIONS));
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await this.limit.run(() => verify(passwordHash, password));
    } catch {
      return false;
    }
  }

  /** Runs a full verification against a fixed hash, so an unknown email costs what a known one does. */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash('fingerprint-auth dummy password for unknown accounts');
    await this.verify(await this.dummyHash, password);
    return false;
  }
}
