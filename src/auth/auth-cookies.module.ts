import { Module } from '@nestjs/common';
import { AuthCookiesService } from './auth-cookies.service';
import { FingerprintService } from './fingerprint.service';
import { RefreshCredentialService } from './refresh-credential.service';

/**
 * The auth cookies on their own (they need only the configuration), so the sessions routes can
 * clear them when the current session ends without depending on the whole auth module.
 */
@Module({
  providers: [FingerprintService, RefreshCredentialService, AuthCookiesService],
  exports: [FingerprintService, RefreshCredentialService, AuthCookiesService],
})
export class AuthCookiesModule {}
