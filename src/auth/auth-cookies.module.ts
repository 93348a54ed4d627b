import { DynamicModule, Module } from '@nestjs/common';
import { CookieWriter } from '../http/cookies';
import { AuthCookiesService } from './auth-cookies.service';
import { FingerprintService } from './fingerprint.service';
import { RefreshCredentialService } from './refresh-credential.service';

/**
 * The auth cookies on their own (they need only the configuration), so the sessions routes can
 * clear them when the current session ends without depending on the whole auth module.
 */
@Module({})
export class AuthCookiesModule {
  static register(core: DynamicModule): DynamicModule {
    return {
      module: AuthCookiesModule,
      imports: [core],
      providers: [FingerprintService, RefreshCredentialService, CookieWriter, AuthCookiesService],
      exports: [FingerprintService, RefreshCredentialService, AuthCookiesService],
    };
  }
}
