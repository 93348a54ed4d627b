import { DynamicModule, Inject, Injectable, Logger, Module, OnModuleInit } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { FINGERPRINT_AUTH_OPTIONS } from '../fingerprint-auth-core.module';
import type { FingerprintAuthOptions } from '../options/fingerprint-auth-options';
import { SqlDatabase } from '../database/database';
import { SQL_DATABASE } from '../database/database-connection';
import { migrateToLatest } from './database/migrations';
import { normaliseStoredEmails, unresolvedEmailsWarning } from './database/stored-emails';
import { KyselyUserRepository } from './kysely-user.repository';
import { PasswordHasher } from './password-hasher';
import { UserDatabaseHealthIndicator } from './user-database.health';
import { UserRepository } from './user.repository';
import { UsersService } from './users.service';

/** The built-in user database (SQLite or PostgreSQL); null when the host brings its own users. */
export const USERS_DATABASE = Symbol('USERS_DATABASE');

/** Migrates the built-in users' tables at start (the core module closes the database). */
@Injectable()
export class BuiltInUserDatabase implements OnModuleInit {
  constructor(@Inject(USERS_DATABASE) private readonly database: SqlDatabase | null) {}

  async onModuleInit(): Promise<void> {
    if (this.database === null) return;
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
}

/** Accounts: the `UserRepository` (the host's, or the built-in one), passwords, readiness. */
@Module({})
export class UsersModule {
  static register(core: DynamicModule): DynamicModule {
    return {
      module: UsersModule,
      imports: [core, TerminusModule],
      providers: [
        {
          provide: USERS_DATABASE,
          inject: [FINGERPRINT_AUTH_OPTIONS, SQL_DATABASE],
          useFactory: (options: FingerprintAuthOptions, database: SqlDatabase | null) =>
            options.users ? null : database,
        },
        {
          provide: UserRepository,
          inject: [FINGERPRINT_AUTH_OPTIONS, USERS_DATABASE],
          useFactory: (options: FingerprintAuthOptions, database: SqlDatabase | null) =>
            options.users ?? new KyselyUserRepository(database as SqlDatabase),
        },
        BuiltInUserDatabase,
        PasswordHasher,
        UsersService,
        UserDatabaseHealthIndicator,
      ],
      exports: [UsersService, UserDatabaseHealthIndicator],
    };
  }
}
