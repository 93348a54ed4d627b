import type { PublicUser } from './user';

/** Users kept at most; the least recently used go first beyond this. */
export const USER_CACHE_SIZE = 10_000;
/** How long a cached user is trusted before the database is asked again (ms). */
export const USER_CACHE_TTL_MS = 30_000;

/** Who a guarded request's user is: what routes may use of them, never the password hash. */
export type CachedUser = Pick<PublicUser, 'id' | 'email' | 'displayName'>;

/**
 * The users guarded requests have needed recently, so such a request costs no query. Bounded
 * (least recently used first out) and short-lived: an entry is trusted for USER_CACHE_TTL_MS,
 * and this instance drops it at once when it changes or deletes the user. With sessions in
 * Redis, a change made on another instance drops it too (`UsersService` follows the
 * invalidation channel); one made elsewhere (the database directly, or another instance without
 * Redis) is seen within the TTL.
 */
export class UserCache {
  private readonly entries = new Map<string, { user: CachedUser; until: number }>();

  constructor(
    private readonly capacity = USER_CACHE_SIZE,
    private readonly ttlMs = USER_CACHE_TTL_MS,
  ) {}

  get(id: string, nowMs: number): CachedUser | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (nowMs >= entry.until) {
      this.entries.delete(id);
      return undefined;
    }
    // Most recently used last: re-inserting moves it there.
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry.user;
  }

  set(user: CachedUser, nowMs: number): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(user.id);
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(user.id, { user, until: nowMs + this.ttlMs });
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
