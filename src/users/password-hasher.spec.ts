import { chrtPath, HASHING_NICE } from './hashing-pool';
import { HASH_THREADS, PasswordHasher } from './password-hasher';

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher();

  afterAll(() => hasher.onModuleDestroy());

  it('hashes with argon2id and verifies only the same password', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(hash, 'correct horse battery stapl')).toBe(false);
    expect(await hasher.verify('not a hash', 'anything')).toBe(false);
  });

  it('answers many at once, each with its own result', async () => {
    const passwords = Array.from({ length: 6 }, (_, i) => `password number ${i}`);
    const hashes = await Promise.all(passwords.map((p) => hasher.hash(p)));
    const checks = await Promise.all(
      hashes.flatMap((hash, i) => [
        hasher.verify(hash, passwords[i]),
        hasher.verify(hash, 'wrong'),
      ]),
    );
    expect(checks).toEqual(passwords.flatMap(() => [true, false]));
  });

  it('hashes on threads of the lowest priority, one per core', async () => {
    const priorities = await hasher.threadPriorities();
    expect(priorities).toHaveLength(HASH_THREADS);
    if (process.platform !== 'linux') return;
    // Linux lets any thread lower its own nice value and put itself under SCHED_IDLE; the policy
    // is read back from the kernel, so a `chrt` that did nothing would fail this.
    const policy = chrtPath() !== null ? 'idle' : 'other';
    expect(priorities).toEqual(priorities.map(() => ({ nice: HASHING_NICE, policy })));
  });

  it('costs an unknown email a full verification and answers false', async () => {
    expect(await hasher.verifyDummy('whatever')).toBe(false);
  });

  it('refuses work once closed', async () => {
    const closed = new PasswordHasher();
    await closed.onModuleDestroy();
    await expect(closed.hash('x'.repeat(12))).rejects.toThrow('closed');
  });
});
