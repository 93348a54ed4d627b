import fc from 'fast-check';
import { newSessionId, SESSION_ID_PATTERN, sessionShard, userShard } from './session-id';

describe('session ids', () => {
  it("start with the user's shard and keep the 22-character pattern", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64, unit: 'binary' }), (userId) => {
        const id = newSessionId(userId);
        expect(id).toMatch(SESSION_ID_PATTERN);
        expect(sessionShard(id)).toBe(userShard(userId));
      }),
    );
  });

  it('derive the shard from SHA-256 of the user id', () => {
    // base64url(SHA-256("alice")) = "K9gGyX8OAK8a..."; the shard is its first four characters.
    expect(userShard('alice')).toBe('K9gG');
    expect(userShard('alice')).toBe(userShard('alice'));
    expect(userShard('bob')).not.toBe(userShard('alice'));
  });

  it('differ in their random part for the same user', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newSessionId('alice').slice(4)));
    expect(ids.size).toBe(1000);
  });
});
