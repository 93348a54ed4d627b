import { createHash, randomBytes } from 'node:crypto';

/** 22 base64url characters: a 4-character shard of the user id, then 108 random bits. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

const SHARD_LENGTH = 4;
const RANDOM_LENGTH = 18;

/** The user's shard: the first 4 base64url characters of SHA-256(userId). */
export const userShard = (userId: string): string =>
  createHash('sha256').update(userId).digest('base64url').slice(0, SHARD_LENGTH);

/** The shard a session id was made for: its first 4 characters. */
export const sessionShard = (sessionId: string): string => sessionId.slice(0, SHARD_LENGTH);

/**
 * A new session id for the user: `userShard(userId)` then 18 random base64url characters.
 *
 * Why the shard: Redis Cluster keeps all of one user's keys in one slot through the hash tag
 * `{shard}`, so the per-user limit and index stay atomic in one script. The refresh route knows
 * only the session id (the cookie is `<sessionId>.<secret>`), so the id itself must name the slot.
 * The 108 random bits keep it unguessable; the 24 shard bits say nothing beyond which user
 * the session belongs to, which the token's `sub` already carries alongside `sid`.
 */
export const newSessionId = (userId: string): string =>
  userShard(userId) + randomBytes(14).toString('base64url').slice(0, RANDOM_LENGTH);
