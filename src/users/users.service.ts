import { Inject, Injectable, Optional } from '@nestjs/common';
import { Clock } from '../common/clock';
import {
  CurrentPasswordIncorrectError,
  InvalidCredentialsError,
  UnauthenticatedError,
} from '../common/errors';
import { CacheLookups, FingerprintAuthMetrics } from '../observability/metrics';
import type {
  InvalidationListener,
  Invalidations,
  InvalidationTopic,
} from '../redis/invalidation-channel';
import { INVALIDATION_CHANNEL } from '../redis/redis-connection';
import { emailSkeleton, normaliseEmail } from './email-address';
import { PasswordHasher } from './password-hasher';
import { User } from './user';
import { CachedUser, UserCache } from './user-cache';
import { UserRepository } from './user.repository';

/**
 * Accounts: registration, password checks and changes, deletion, and who a signed-in user is.
 * A host app that creates its users itself (`routes: { register: false }`) calls `register` here.
 *
 * With sessions in Redis, the user cache follows the invalidation channel: a change made on any
 * instance drops the user here too, and while the channel is down the cache is not used.
 */
@Injectable()
export class UsersService implements InvalidationListener {
  private readonly cache = new UserCache();
  private readonly lookups: CacheLookups;

  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
    @Optional()
    @Inject(INVALIDATION_CHANNEL)
    private readonly channel: Invalidations | null = null,
    @Optional() @Inject(FingerprintAuthMetrics) metrics: FingerprintAuthMetrics | null = null,
  ) {
    this.lookups = metrics?.lookupsOf('users') ?? new CacheLookups();
    channel?.listen(this);
  }

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
    return this.signedInFromCache(id) ?? this.askFor(id);
  }

  /**
   * `signedIn` answered from the cache, without a query or a promise; undefined when only
   * `signedIn` can tell (not cached, or the channel is not trusted).
   */
  signedInFromCache(id: string): CachedUser | undefined {
    const channel = this.channel;
    if (channel !== null && !channel.trusted()) return undefined;
    const cached = this.cache.get(id, this.clock.now());
    if (cached !== undefined) this.lookups.hits++;
    return cached;
  }

  /** The user from the database, kept in the cache when the channel (if any) allows it. */
  private async askFor(id: string): Promise<CachedUser | null> {
    const channel = this.channel;
    if (channel !== null && !channel.trusted()) {
      this.lookups.bypasses++;
      const user = await this.users.findById(id);
      return user === null ? null : cachedUser(user);
    }
    this.lookups.misses++;
    const now = this.clock.now();
    const generation = channel?.generation();
    const user = await this.users.findById(id);
    if (user === null) return null;
    const known = cachedUser(user);
    // A change announced while the query ran may be older than its answer: not kept then.
    if (channel === null || (channel.trusted() && channel.generation() === generation)) {
      this.cache.set(known, now);
    }
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
    await this.forget(user.id);
  }

  /** Removes the user row; false when it was already gone. Sessions are the caller's to end. */
  async delete(userId: string): Promise<boolean> {
    this.cache.delete(userId);
    const deleted = await this.users.delete(userId);
    await this.forget(userId);
    return deleted;
  }

  /**
   * Forgets what is cached of the user (it changed, say through the host's own user store, or is
   * gone): here, and on every instance when sessions live in Redis. Rejects with
   * `StoreUnavailableError` when the other instances could not be told.
   */
  async forget(userId: string): Promise<void> {
    this.cache.delete(userId);
    await this.channel?.announce('user', userId);
  }

  invalidate(topic: InvalidationTopic, id: string): void {
    if (topic === 'user') this.cache.delete(id);
  }

  reset(): void {
    this.cache.clear();
  }
}

const cachedUser = (user: User): CachedUser => ({
  id: user.id,
  email: user.email,
  displayName: user.displayName,
});
