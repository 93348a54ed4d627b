import { randomUUID } from 'node:crypto';
import { EmailTakenError, StoreUnavailableError } from '../../src/common/errors';
import { NewUser, User } from '../../src/users/user';
import { UserRepository } from '../../src/users/user.repository';

export interface UserRepositoryHarness {
  readonly repository: UserRepository;
  /** Runs the migrations once more against the same database. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** A way for a harness's database to stop answering. */
export interface Outage<H extends UserRepositoryHarness> {
  readonly name: string;
  /** The database goes quiet rather than failing fast, so only timeouts can end a request. */
  readonly silent: boolean;
  /** Starts the outage; resolves with a way to end it, or nothing when it is for good. */
  begin(harness: H): Promise<(() => Promise<void>) | void>;
}

const PASSWORD_HASH = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$ZmFrZWhhc2hmb3J0ZXN0cw';

let counter = 0;
const uniqueEmail = () => `contract-${randomUUID()}-${++counter}@example.com`;
/** A new user; its skeleton follows its email unless given (the repository never computes it). */
const newUser = (overrides: Partial<NewUser> = {}): NewUser => {
  const email = overrides.email ?? uniqueEmail();
  return {
    email,
    emailSkeleton: `skeleton:${email}`,
    displayName: 'Ada Lovelace',
    passwordHash: PASSWORD_HASH,
    ...overrides,
  };
};

/** What every `UserRepository` adapter promises, whatever database is behind it. */
export function userRepositoryContract<H extends UserRepositoryHarness>(
  name: string,
  open: () => Promise<H>,
  outages: ReadonlyArray<Outage<H>>,
): void {
  describe(`UserRepository contract: ${name}`, () => {
    let harness: H;
    let users: UserRepository;

    beforeAll(async () => {
      harness = await open();
      users = harness.repository;
    });

    afterAll(async () => {
      await harness?.close();
    });

    describe('create, findByEmail, findById', () => {
      it('stores every field and finds the user by email and by id', async () => {
        const input = newUser();
        const before = Date.now();
        const created = await users.create(input);
        const after = Date.now();

        expect(created).toEqual({
          id: expect.any(String),
          email: input.email,
          displayName: input.displayName,
          passwordHash: input.passwordHash,
          createdAt: expect.any(Date),
        });
        expect(created.createdAt.getTime()).toBeGreaterThanOrEqual(before);
        expect(created.createdAt.getTime()).toBeLessThanOrEqual(after);

        const byEmail = await users.findByEmail(input.email);
        const byId = await users.findById(created.id);
        for (const found of [byEmail, byId]) {
          expect(found).toEqual(created);
          // The same instant to the millisecond, whatever the column type and time zone.
          expect(found?.createdAt.toISOString()).toBe(created.createdAt.toISOString());
        }
      });

      it('gives every user its own id', async () => {
        const [a, b] = [await users.create(newUser()), await users.create(newUser())];
        expect(a.id).not.toBe(b.id);
        expect((await users.findById(a.id))?.email).toBe(a.email);
        expect((await users.findById(b.id))?.email).toBe(b.email);
      });

      it('round-trips a null display name as null', async () => {
        const created = await users.create(newUser({ displayName: null }));
        expect((await users.findById(created.id))?.displayName).toBeNull();
      });

      it.each([
        ['accents, CJK, right-to-left and emoji', 'Zoë Ørsted 李小龍 العربية 🙂👩🏽‍💻'],
        ['combining marks (not normalised)', 'Zoe\u0308 e\u0301'],
        ['a long name of astral characters', '𝔘'.repeat(5000)],
        ['quotes and SQL', `Robert'); DROP TABLE users;-- "x" \\ %_`],
      ])('round-trips a display name with %s exactly', async (_, displayName) => {
        const created = await users.create(newUser({ displayName }));
        const found = await users.findById(created.id);
        expect(found?.displayName).toBe(displayName);
        expect(found?.displayName?.length).toBe(displayName.length);
      });

      it('matches the email exactly: normalising it is the caller’s job', async () => {
        const created = await users.create(newUser());
        expect(await users.findByEmail(created.email.toUpperCase())).toBeNull();
        expect(await users.findByEmail(` ${created.email}`)).toBeNull();
        expect((await users.findByEmail(created.email))?.id).toBe(created.id);
      });
    });

    describe('unique email', () => {
      it('refuses a second user with the same email and keeps the first', async () => {
        const first = await users.create(newUser());
        await expect(
          users.create(newUser({ email: first.email, displayName: 'Impostor' })),
        ).rejects.toBeInstanceOf(EmailTakenError);
        expect(await users.findByEmail(first.email)).toEqual(first);
      });

      it('refuses a different email with the skeleton of a registered one, and keeps the first', async () => {
        const first = await users.create(newUser());
        const lookalike = newUser({ emailSkeleton: `skeleton:${first.email}` });
        expect(lookalike.email).not.toBe(first.email);
        await expect(users.create(lookalike)).rejects.toBeInstanceOf(EmailTakenError);
        expect(await users.findByEmail(lookalike.email)).toBeNull();
        expect(await users.findByEmail(first.email)).toEqual(first);
      });

      it('lets exactly one of many concurrent creates of one email win', async () => {
        const email = uniqueEmail();
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            users.create(newUser({ email, displayName: `n${i}` })),
          ),
        );
        const won = results.filter(
          (r): r is PromiseFulfilledResult<User> => r.status === 'fulfilled',
        );
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(7);
        for (const { reason } of lost) expect(reason).toBeInstanceOf(EmailTakenError);
        expect(await users.findByEmail(email)).toEqual(won[0].value);
      });
    });

    describe('unknown users', () => {
      it.each([
        ['a random uuid', randomUUID()],
        ['not a uuid', 'not-a-uuid'],
        ['the empty string', ''],
        ['a NUL character', 'a\u0000b'],
      ])('findById with %s gives null', async (_, id) => {
        expect(await users.findById(id)).toBeNull();
      });

      it.each([
        ['an unregistered email', 'nobody-here@example.com'],
        ['the empty string', ''],
        ['a NUL character', 'nul\u0000@example.com'],
        ['a LIKE pattern', '%@example.com'],
      ])('findByEmail with %s gives null', async (_, email) => {
        await users.create(newUser());
        expect(await users.findByEmail(email)).toBeNull();
      });
    });

    describe('updatePasswordHash', () => {
      it('replaces the hash of that user only and returns true', async () => {
        const target = await users.create(newUser());
        const bystander = await users.create(newUser());
        expect(await users.updatePasswordHash(target.id, '$argon2id$new')).toBe(true);
        expect(await users.findById(target.id)).toEqual({
          ...target,
          passwordHash: '$argon2id$new',
        });
        expect(await users.findByEmail(target.email)).toMatchObject({
          passwordHash: '$argon2id$new',
        });
        expect(await users.findById(bystander.id)).toEqual(bystander);
      });

      it('returns false for an unknown user and creates nothing', async () => {
        const id = randomUUID();
        expect(await users.updatePasswordHash(id, '$argon2id$new')).toBe(false);
        expect(await users.findById(id)).toBeNull();
      });
    });

    describe('delete', () => {
      it('removes that user only and returns true; its email and skeleton are free again', async () => {
        const target = await users.create(newUser());
        const bystander = await users.create(newUser());
        expect(await users.delete(target.id)).toBe(true);
        expect(await users.findById(target.id)).toBeNull();
        expect(await users.findByEmail(target.email)).toBeNull();
        expect(await users.findById(bystander.id)).toEqual(bystander);
        expect(await users.updatePasswordHash(target.id, '$argon2id$new')).toBe(false);

        const again = await users.create(newUser({ email: target.email }));
        expect(again.id).not.toBe(target.id);
        expect(await users.findByEmail(target.email)).toEqual(again);
      });

      it.each([
        ['a random uuid', randomUUID()],
        ['the empty string', ''],
        ['a NUL character', 'a\u0000b'],
      ])('returns false for %s and removes nothing', async (_, id) => {
        const bystander = await users.create(newUser());
        expect(await users.delete(id)).toBe(false);
        expect(await users.findById(bystander.id)).toEqual(bystander);
      });

      it('returns false the second time', async () => {
        const target = await users.create(newUser());
        expect(await users.delete(target.id)).toBe(true);
        expect(await users.delete(target.id)).toBe(false);
      });
    });

    describe('ping and migrations', () => {
      it('ping resolves while the database answers', async () => {
        await expect(users.ping(1000)).resolves.toBeUndefined();
      });

      it('running the migrations again is harmless and keeps the data', async () => {
        const created = await users.create(newUser());
        await harness.migrate();
        await harness.migrate();
        expect(await users.findById(created.id)).toEqual(created);
        await expect(users.create(newUser({ email: created.email }))).rejects.toBeInstanceOf(
          EmailTakenError,
        );
        const another = await users.create(newUser());
        expect(await users.findByEmail(another.email)).toEqual(another);
      });
    });
  });

  describe.each(outages.map((outage) => [outage.name, outage] as const))(
    `UserRepository contract: ${name}, when the database stops answering (%s)`,
    (_, outage) => {
      let harness: H;

      beforeEach(async () => {
        harness = await open();
      });

      afterEach(async () => {
        await harness?.close();
      });

      it('every method rejects with StoreUnavailableError, not a raw driver error', async () => {
        const users = harness.repository;
        const known = await users.create(newUser());
        const end = await outage.begin(harness);

        const calls = {
          create: () => users.create(newUser()),
          findByEmail: () => users.findByEmail(known.email),
          findById: () => users.findById(known.id),
          updatePasswordHash: () => users.updatePasswordHash(known.id, '$argon2id$during-outage'),
          delete: () => users.delete(known.id),
          ping: () => users.ping(1000),
        };
        const results = await Promise.allSettled(Object.values(calls).map((call) => call()));
        const outcomes = Object.keys(calls).map((method, i) => {
          const result = results[i];
          return {
            method,
            error: result.status === 'rejected' ? result.reason : 'resolved',
          };
        });
        expect(outcomes).toEqual(
          Object.keys(calls).map((method) => ({
            method,
            error: expect.objectContaining({
              name: 'StoreUnavailableError',
              store: 'users',
              message: 'The users store is unavailable',
            }),
          })),
        );
        for (const { error } of outcomes) expect(error).toBeInstanceOf(StoreUnavailableError);

        if (end) {
          await end();
          // Back to normal at once: no connection left waiting for an answer that never came.
          expect(await users.findById(known.id)).toEqual(known);
          const later = await users.create(newUser());
          expect(await users.findByEmail(later.email)).toEqual(later);
          await expect(users.ping(1000)).resolves.toBeUndefined();
        }
      });

      if (outage.silent) {
        it('ping rejects at its own deadline, and the database is usable once it answers', async () => {
          const users = harness.repository;
          await users.ping(1000);
          const end = await outage.begin(harness);
          // Shorter than every pool timeout, so only ping's own deadline can end it.
          const error = await users.ping(300).then(
            () => 'resolved',
            (reason: unknown) => reason,
          );
          expect(error).toBeInstanceOf(StoreUnavailableError);
          expect((error as StoreUnavailableError).cause).toMatchObject({
            name: 'DatabaseTimeoutError',
            message: 'no answer within 300 ms',
          });
          if (end) {
            await end();
            await expect(users.ping(1000)).resolves.toBeUndefined();
          }
        });
      }
    },
  );
}
