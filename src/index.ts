/*
 * fingerprint-auth: the NestJS module, its guard and decorators, the ports a host app may
 * implement, and the types of what it hands back. Everything a host needs is imported from here;
 * other paths inside the package are not part of its contract.
 */

// The module and its options
export {
  FingerprintAuthModule,
  type FingerprintAuthModuleAsyncOptions,
  type FingerprintAuthModuleOptions,
} from './fingerprint-auth.module';
export type {
  FingerprintAuthModuleDefinition,
  FingerprintAuthOptions,
  FingerprintAuthRoutes,
  FingerprintAuthSettingsInput,
} from './options/fingerprint-auth-options';
export { FingerprintAuthConfig } from './options/fingerprint-auth-config';
export { FingerprintAuthSettings, InvalidConfigError } from './options/settings';

// Guarding routes
export { FingerprintAuthGuard } from './auth/fingerprint-auth.guard';
export { Public } from './auth/public.decorator';
export {
  CurrentSession,
  CurrentUser,
  type AuthenticatedUser,
} from './auth/current-session.decorator';

// What the routes take and answer
export {
  ChangePasswordDto,
  DeleteAccountDto,
  LoginDto,
  RegisterDto,
} from './auth/dto/credentials.dto';
export {
  MeResponseDto,
  RevokedResponseDto,
  TokenResponseDto,
  UserResponseDto,
} from './auth/dto/auth-responses.dto';
export {
  AlertDto,
  AlertListDto,
  DeviceDto,
  LocationDto,
  SessionEntryDto,
  SessionListDto,
} from './sessions/dto/session-responses.dto';
export { ErrorResponseDto, ERROR_CODES, type ErrorCode } from './http/error-response.dto';

// The library's routes in the host's OpenAPI document
export { withFingerprintAuth } from './http/api-docs';

// Services a host app may call
export { AuthService } from './auth/auth.service';
export { UsersService } from './users/users.service';
export { SessionsService } from './sessions/sessions.service';
export { FingerprintAuthMetrics } from './observability/metrics';

// Health indicators for the host's own Terminus checks
export { SessionStoreHealthIndicator } from './sessions/session-store.health';
export { UserDatabaseHealthIndicator } from './users/user-database.health';

// Ports: implement `UserRepository` to bring your own users
export { UserRepository } from './users/user.repository';
export type { NewUser, PublicUser, User } from './users/user';
export { SessionRepository } from './sessions/session.repository';
export type {
  CreateSessionResult,
  ImportOutcome,
  RefreshOutcome,
  RefreshRotation,
  SessionStoreStats,
  SweepResult,
} from './sessions/session.repository';
export type { NewSession, Session, SessionPolicy } from './sessions/session';
export { GeoLocator } from './geoip/geo-locator';
export type { GeoLocation } from './geoip/geo-location';
export { Clock, FakeClock, SystemClock } from './common/clock';

// Errors a host may see from the services (the routes answer them as HTTP)
export {
  CurrentPasswordIncorrectError,
  DomainError,
  EmailTakenError,
  InvalidCredentialsError,
  StoreUnavailableError,
  UnauthenticatedError,
} from './common/errors';
export { EmailNotAcceptedError } from './users/user.errors';
