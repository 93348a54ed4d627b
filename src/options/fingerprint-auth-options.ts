import type { Clock } from '../common/clock';
import type { GeoLocator } from '../geoip/geo-locator';
import type { UserRepository } from '../users/user.repository';
import type { FingerprintAuthSettings } from './settings';

/**
 * A setting as a host gives it: a duration or count as a number (seconds) or a string (`'15m'`,
 * `'900'`), a list as an array or a comma-separated string, everything else as its own type.
 */
export type SettingInput<T> = T extends number
  ? number | string
  : T extends readonly string[]
    ? readonly string[] | string
    : T;

/**
 * Every setting of `FingerprintAuthSettings`, each optional, with its documented default.
 * `undefined` is unset (`jwtSecret: process.env.JWT_SECRET`), also under
 * `exactOptionalPropertyTypes`.
 */
export type FingerprintAuthSettingsInput = {
  [K in keyof FingerprintAuthSettings]?: SettingInput<FingerprintAuthSettings[K]> | undefined;
};

/**
 * The options of `FingerprintAuthModule.forRoot()` (or what `forRootAsync`'s factory returns):
 * the settings, validated at start with the same rules and messages as the service's
 * environment variables, plus the objects a host may hand over.
 */
export interface FingerprintAuthOptions extends FingerprintAuthSettingsInput {
  /**
   * Your own users (your database, your ORM): an implementation of the `UserRepository` port.
   * Unset: the built-in SQLite/PostgreSQL repository on `databaseUrl`.
   */
  users?: UserRepository | undefined;
  /** The time source sessions and keys are judged by; a `FakeClock` in tests. */
  clock?: Clock | undefined;
  /** Your own locator of client addresses; unset: the one `geoip` and `geoipDbPath` choose. */
  geoLocator?: GeoLocator | undefined;
}

/** Which of the library's routes are mounted (all by default). */
export interface FingerprintAuthRoutes {
  /** `POST /auth/register`. Off when your app creates users itself (see `UsersService.register`). */
  register?: boolean | undefined;
  /** `POST /auth/password` (change the password, ending every other session). */
  password?: boolean | undefined;
  /** `DELETE /account` (delete the account with every session). */
  account?: boolean | undefined;
  /** `GET /sessions`, `DELETE /sessions/:id`, `POST /sessions/logout-all`, `GET /sessions/alerts`. */
  sessions?: boolean | undefined;
}

/**
 * What is fixed when the module is defined, for `forRoot` and `forRootAsync` alike: the shape of
 * the module (which routes, where, which guard) cannot wait for an async factory.
 */
export interface FingerprintAuthModuleDefinition {
  /** Make the module's exports (the guard and its services) visible to every module. Default true. */
  isGlobal?: boolean | undefined;
  /**
   * Guard every route of the app (`@Public()` opts a route out). Default false: guard the routes
   * you choose with `@UseGuards(FingerprintAuthGuard)`.
   */
  globalGuard?: boolean | undefined;
  /** A path the library's routes mount under, e.g. `'api'` for `/api/auth/login`. Default none. */
  routePrefix?: string | undefined;
  routes?: FingerprintAuthRoutes | undefined;
}
