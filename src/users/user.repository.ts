import { NewUser, User } from './user';

/**
 * Where accounts live. Failures of the database (down, cut off, silent past its timeouts) surface
 * as `StoreUnavailableError`. Stored strings never contain NUL (PostgreSQL cannot hold it): the
 * edge refuses them, and a lookup for one finds nothing.
 */
export abstract class UserRepository {
  /** Stores a new user; throws `EmailTakenError` when its email or email skeleton is already registered. */
  abstract create(input: NewUser): Promise<User>;

  /** The user with exactly this (already normalised) email, or null. */
  abstract findByEmail(email: string): Promise<User | null>;

  /** The user with this id, or null. */
  abstract findById(id: string): Promise<User | null>;

  /** Replaces the password hash; returns false when the user does not exist. */
  abstract updatePasswordHash(id: string, passwordHash: string): Promise<boolean>;

  /** Removes the user (its email and skeleton become free); returns false when there was none. */
  abstract delete(id: string): Promise<boolean>;

  /** Resolves when the database answers a trivial query within `timeoutMs`; throws otherwise. */
  abstract ping(timeoutMs: number): Promise<void>;
}
