import { createHash, randomBytes } from 'node:crypto';

/** 22 base64url characters: a 4-character shard of the user id, then 104 random bits. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** 3 bytes of the user id's digest make exactly the 4 base64url characters of the shard. */
const SHARD_BYTES = 3;
const SHARD_LENGTH = 4;
/** 3 + 13 = 16 bytes: 22 base64url characters, the last of them carrying 4 random bits. */
const RANDOM_BYTES = 13;

const digestOf = (userId: string): Buffer => createHash('sha256').update(userId).digest();

/** The user's shard: the first 4 base64url characters of SHA-256(userId). */
export const userShard = (userId: string): string =>
  digestOf(userId).subarray(0, SHARD_BYTES).toString('base64url');

/** The shard a session id was made for: its first 4 characters. */
export const sessionShard = (sessionId: string): string => sessionId.slice(0, SHARD_LENGTH);

/**
 * A new session id for the user: `userShard(userId)` then 104 random bits, as one base64url
 * encoding of 16 bytes (a single flat string: a million of them in memory cost no more than that).
 *
 * Why the shard: Redis Cluster keeps all of one user's keys in one slot through the hash tag
 * `{shard}`, so the per-user limit and index stay atomic in one script. The refresh route knows
 * only the session id (the cookie is `<sessionId>.<secret>`), so the id itself must name the slot.
 * The 104 random bits keep it unguessable; the 24 shard bits say nothing beyond which user
 * the session belongs to, which the token's `sub` already carries alongside `sid`.
 */
export const newSessionId = (userId: string): string =>
  Buffer.concat([digestOf(userId).subarray(0, SHARD_BYTES), randomBytes(RANDOM_BYTES)]).toString(
    'base64url',
  );
