import { randomUUID } from 'node:crypto';
import { Kysely, Selectable } from 'kysely';
import { EmailTakenError, StoreUnavailableError } from '../common/errors';
import { DatabaseKind, SqlDatabase } from '../database/database';
import { usersDb, UsersSchema, UsersTable } from './database/schema';
import { NewUser, User } from './user';
import { UserRepository } from './user.repository';

/**
 * Users in SQL through Kysely: the same queries on SQLite (embedded default) and PostgreSQL.
 */
export class KyselyUserRepository extends UserRepository {
  private readonly db: Kysely<UsersSchema>;

  constructor(private readonly database: SqlDatabase) {
    super();
    this.db = usersDb(database);
  }

  async create(input: NewUser): Promise<User> {
    const row = {
      id: randomUUID(),
      email: input.email,
      email_skeleton: input.emailSkeleton,
      display_name: input.displayName,
      password_hash: input.passwordHash,
      // ISO text with its offset: SQLite keeps it as is, PostgreSQL parses it into timestamptz.
      created_at: new Date().toISOString(),
    };
    try {
      await this.db.insertInto('users').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error, this.database.kind)) throw new EmailTakenError();
      throw new StoreUnavailableError('users', error);
    }
    return toUser(row);
  }

  async findByEmail(email: string): Promise<User | null> {
    return this.findOne('email', email);
  }

  async findById(id: string): Promise<User | null> {
    return this.findOne('id', id);
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<boolean> {
    const result = await this.guard(() =>
      this.db
        .updateTable('users')
        .set({ password_hash: passwordHash, updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(id: string): Promise<boolean> {
    if (id.includes('\u0000')) return false;
    const result = await this.guard(() =>
      this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst(),
    );
    return Number(result.numDeletedRows) > 0;
  }

  async ping(timeoutMs: number): Promise<void> {
    await this.guard(() => this.database.ping(timeoutMs));
  }

  private async findOne(column: 'id' | 'email', value: string): Promise<User | null> {
    // PostgreSQL rejects NUL in text, so no stored value contains one: answer as SQLite would.
    if (value.includes('\u0000')) return null;
    const row = await this.guard(() =>
      this.db
        .selectFrom('users')
        .select(['id', 'email', 'display_name', 'password_hash', 'created_at'])
        .where(column, '=', value)
        .executeTakeFirst(),
    );
    return row ? toUser(row) : null;
  }

  private async guard<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw new StoreUnavailableError('users', error);
    }
  }
}

function toUser(
  row: Pick<
    Selectable<UsersTable>,
    'id' | 'email' | 'display_name' | 'password_hash' | 'created_at'
  >,
): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    passwordHash: row.password_hash,
    createdAt: new Date(row.created_at),
  };
}

function isUniqueViolation(error: unknown, kind: DatabaseKind): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return kind === 'postgres'
    ? code === '23505'
    : code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
