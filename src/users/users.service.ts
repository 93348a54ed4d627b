import { Injectable } from '@nestjs/common';
import {
  CurrentPasswordIncorrectError,
  InvalidCredentialsError,
  UnauthenticatedError,
} from '../common/errors';
import { emailSkeleton, normaliseEmail } from './email-address';
import { PasswordHasher } from './password-hasher';
import { User } from './user';
import { UserRepository } from './user.repository';

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
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
    if (!user || !ok) throw new InvalidCredentialsError();
    return user;
  }

  findById(id: string): Promise<User | null> {
    return this.users.findById(id);
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
  }

  /** Removes the user row; false when it was already gone. Sessions are the caller's to end. */
  delete(userId: string): Promise<boolean> {
    return this.users.delete(userId);
  }
}
