export interface User {
  readonly id: string;
  /** Normalised (`normaliseEmail`); unique, and so is its confusable skeleton. */
  readonly email: string;
  readonly displayName: string | null;
  /** argon2id PHC string; never leaves the service. */
  readonly passwordHash: string;
  readonly createdAt: Date;
}

export interface NewUser {
  /** Already normalised (`normaliseEmail`). */
  readonly email: string;
  /** `emailSkeleton(email)`: no two users share one, so lookalike emails cannot both register. */
  readonly emailSkeleton: string;
  readonly displayName: string | null;
  readonly passwordHash: string;
}

/** What the API shows of a user. */
export interface PublicUser {
  readonly id: string;
  readonly email: string;
  readonly displayName: string | null;
  readonly createdAt: string;
}

export const toPublicUser = (user: User): PublicUser => ({
  id: user.id,
  email: user.email,
  displayName: user.displayName,
  createdAt: user.createdAt.toISOString(),
});
