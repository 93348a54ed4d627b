import { Inject, Injectable, OnApplicationShutdown, Provider } from '@nestjs/common';
import type { FingerprintAuthOptions } from '../options/fingerprint-auth-options';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { openDatabase, SqlDatabase } from './database';

/** The module's SQL database (`databaseUrl`); null when no feature keeps data in it. */
export const SQL_DATABASE = Symbol('SQL_DATABASE');

/** Whether this configuration keeps anything in SQL: the built-in users, the sessions, the audit trail. */
export function needsSqlDatabase(
  options: Pick<FingerprintAuthOptions, 'users'>,
  config: Pick<FingerprintAuthConfig, 'sessionStore' | 'auditTrail'>,
): boolean {
  return options.users === undefined || config.sessionStore === 'sql' || config.auditTrail;
}

/** Closes the module's database when the application shuts down (after the HTTP server has). */
@Injectable()
export class SqlDatabaseConnection implements OnApplicationShutdown {
  constructor(@Inject(SQL_DATABASE) private readonly database: SqlDatabase | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database?.db.destroy();
  }
}

/** Providers of the shared database; `optionsToken` is the module instance's options. */
export function sqlDatabaseProviders(optionsToken: symbol): Provider[] {
  return [
    {
      provide: SQL_DATABASE,
      inject: [optionsToken, FingerprintAuthConfig],
      useFactory: (options: FingerprintAuthOptions, config: FingerprintAuthConfig) =>
        needsSqlDatabase(options, config) ? openDatabase(config.databaseUrl) : null,
    },
    SqlDatabaseConnection,
  ];
}
