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
    // Accounts left unnormalised by the skeleton migration (or registered meanwhile by instances
    // of the release before it): retried, as their conflict may be gone, and listed at every
    // start until an operator resolves them. Losing a race with a registration elsewhere only
    // postpones the retry to the next start.
    const logger = new Logger('Users');
    try {
      const warning = unresolvedEmailsWarning(await normaliseStoredEmails(this.database.db));
      if (warning !== null) logger.warn(warning);
    } catch (error) {
      logger.warn(
        `could not normalise stored emails now (retried at the next start): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.database.db.destroy();
  }
}
