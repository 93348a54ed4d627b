import { availableParallelism } from 'node:os';
import { Algorithm } from '@node-rs/argon2';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { HashingPool, ThreadPriority } from './hashing-pool';

/** OWASP's argon2id minimum: 19 MiB memory, 2 iterations, 1 lane. */
export const ARGON2_OPTIONS = {
  algorithm: Algorithm.Argon2id,
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
} as const;

/**
 * Hashing threads: one per core. They run at the lowest priority (see `HashingPool`), so they
 * take the cores only while the event loop does not need them: a login storm on a two-core
 * machine no longer starves guarded requests (on libuv's pool at normal priority, their p99 grew
 * ~8x; bench/, login storm). Logins beyond the threads wait their turn.
 */
export const HASH_THREADS = Math.max(1, availableParallelism());

/**
 * argon2id password hashing on worker threads of the lowest priority (never on the event loop),
 * at most `HASH_THREADS` at a time. The whole password is hashed: nothing is truncated.
 */
@Injectable()
export class PasswordHasher implements OnModuleDestroy {
  private dummyHash?: Promise<string>;
  private readonly pool = new HashingPool(HASH_THREADS);

  hash(password: string): Promise<string> {
    return this.pool.hash(password, ARGON2_OPTIONS);
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await this.pool.verify(passwordHash, password);
    } catch {
      return false;
    }
  }

  /** How each hashing thread is scheduled (nice value and policy): for tests. */
  threadPriorities(): Promise<ThreadPriority[]> {
    return this.pool.priorities();
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }

  /** Runs a full verification against a fixed hash, so an unknown email costs what a known one does. */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash('fingerprint-auth dummy password for unknown accounts');
    await this.verify(await this.dummyHash, password);
    return false;
  }
}
