import { Inject, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { Env } from '../config';
import { openDatabase, UsersDatabase } from './database/database';
import { migrateToLatest } from './database/migrations';
import { normaliseStoredEmails, unresolvedEmailsWarning } from './database/stored-emails';
import { KyselyUserRepository } from './kysely-user.repository';
import { PasswordHasher } from './password-hasher';
import { UserRepository } from './user.repository';
import { UsersService } from './users.service';
import { UserDatabaseHealthIndicator } from './user-database.health';

export const USERS_DATABASE = Symbol('USERS_DATABASE');

@Module({
  imports: [TerminusModule],
  providers: [
    {
      provide: USERS_DATABASE,
      inject: [ConfigService],
      useFactory: (config: ConfigService<Env, true>): UsersDatabase =>
        openDatabase(config.get('DATABASE_URL', { infer: true })),
    },
    {
      provide: UserRepository,
      inject: [USERS_DATABASE],
      useFactory: (database: UsersDatabase) => new KyselyUserRepository(database),
    },
    PasswordHasher,
    UsersService,
    UserDatabaseHealthIndicator,
  ],
  exports: [UsersService, PasswordHasher, UserDatabaseHealthIndicator],
})
export class UsersModule implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(USERS_DATABASE) private readonly database: UsersDatabase) {}

  async onModuleInit(): Promise<void> {
    await migrateToLatest(this.database.db, this.database.kind);
    // Accounts left unnormalised by the skeleton migration: retried (their conflict may be gone)
    // and listed at every start until an operator resolves them.
    const warning = unresolvedEmailsWarning(await normaliseStoredEmails(this.database.db));
    if (warning !== null) new Logger('Users').warn(warning);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.database.db.destroy();
  }
}
