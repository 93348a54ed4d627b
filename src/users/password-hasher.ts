import { Algorithm, hash, verify } from '@node-rs/argon2';

/** OWASP's argon2id minimum: 19 MiB memory, 2 iterations, 1 lane. */
export const ARGON2_OPTIONS = {
  algorithm: Algorithm.Argon2id,
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
} as const;

/**
 * argon2id password hashing on libuv's thread pool (never on the event loop). The whole
 * password is hashed: nothing is truncated.
 */
export class PasswordHasher {
  private dummyHash?: Promise<string>;

  hash(password: string): Promise<string> {
    return hash(password, ARGON2_OPTIONS);
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
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
