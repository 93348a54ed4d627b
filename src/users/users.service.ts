import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import {
  CurrentPasswordIncorrectError,
  InvalidCredentialsError,
  UnauthenticatedError,
} from '../common/errors';
import { emailSkeleton, normaliseEmail } from './email-address';
import { PasswordHasher } from './password-hasher';
import { User } from './user';
import { CachedUser, UserCache } from './user-cache';
import { UserRepository } from './user.repository';

/**
 * Accounts: registration, password checks and changes, deletion, and who a signed-in user is.
 * A host app that creates its users itself (`routes: { register: false }`) calls `register` here.
 */
@Injectable()
export class UsersService {
  private readonly cache = new UserCache();

  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
  ) {}

  /**
   * Creates an account; throws `EmailTakenError` when the email, or one that looks like it, is
   * registered already, and `EmailNotAcceptedError` when the email breaks the email rules.
   */
  async register(email: string, password: string, displayName: string | null): Promise<User> {
    const normalised = normaliseEmail(email);
    const passwordHash = await this.hasher.hash(password);
    return this.users.create({
      email: normalised,
      emailSkeleton: emailSkeleton(normalised),
      displayName,
      passwordHash,
    });
  }

  /**
   * The user whose email and password match. Unknown emails still run a full argon2
   * verification, so both failures take as long and throw the same `InvalidCredentialsError`.
   */
  async authenticate(email: string, password: string): Promise<User> {
    const user = await this.users.findByEmail(normaliseEmail(email));
    const ok = user
      ? await this.hasher.verify(user.passwordHash, password)
      : await this.hasher.verifyDummy(password);
    if (!user || !ok) throw new InvalidCredentialsError(user?.id);
    return user;
  }

  findById(id: string): Promise<User | null> {
    return this.users.findById(id);
  }

  /**
   * Who a signed-in user is (id, email, display name), from the cache when this instance asked
   * recently (see `UserCache`); null when the user no longer exists.
   */
  async signedIn(id: string): Promise<CachedUser | null> {
    const now = this.clock.now();
    const cached = this.cache.get(id, now);
    if (cached !== undefined) return cached;
    const user = await this.users.findById(id);
    if (user === null) return null;
    const known: CachedUser = { id: user.id, email: user.email, displayName: user.displayName };
    this.cache.set(known, now);
    return known;
  }

  /**
   * The signed-in user, once `password` is confirmed to be theirs: `CurrentPasswordIncorrectError`
   * when it is not, `UnauthenticatedError` when the user no longer exists.
   */
  async confirmPassword(userId: string, password: string): Promise<User> {
    const user = await this.users.findById(userId);
    if (!user) throw new UnauthenticatedError();
    if (!(await this.hasher.verify(user.passwordHash, password))) {
      throw new CurrentPasswordIncorrectError();
    }
    return user;
  }

  /** Checks the current password (see `confirmPassword`) and stores the new one. */
  async changePassword(
    userId: string,
    currentPassword: string,
    newPassword: string,
  ): Promise<void> {
    const user = await this.confirmPassword(userId, currentPassword);
    await this.users.updatePasswordHash(user.id, await this.hasher.hash(newPassword));
    this.cache.delete(user.id);
  }

  /** Removes the user row; false when it was already gone. Sessions are the caller's to end. */
  async delete(userId: string): Promise<boolean> {
    this.cache.delete(userId);
    const deleted = await this.users.delete(userId);
    this.cache.delete(userId);
    return deleted;
  }

  /** Forgets what this instance cached of the user (it changed elsewhere, or is gone). */
  forget(userId: string): void {
    this.cache.delete(userId);
  }
}
