import { Injectable } from '@nestjs/common';
import { InvalidCredentialsError } from '../common/errors';
import { PasswordHasher } from './password-hasher';
import { User } from './user';
import { UserRepository } from './user.repository';

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
  ) {}

  /** Creates an account; throws `EmailTakenError` when the email is registered already. */
  async register(email: string, password: string, displayName: string | null): Promise<User> {
    const passwordHash = await this.hasher.hash(password);
    return this.users.create({ email: normaliseEmail(email), displayName, passwordHash });
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

  /** Checks the current password and stores the new one; throws `InvalidCredentialsError` on mismatch. */
  async changePassword(
    userId: string,
    currentPassword: string,
    newPassword: string,
  ): Promise<void> {
    const user = await this.users.findById(userId);
    if (!user || !(await this.hasher.verify(user.passwordHash, currentPassword))) {
      throw new InvalidCredentialsError();
    }
    await this.users.updatePasswordHash(user.id, await this.hasher.hash(newPassword));
  }
}

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();
