import { Injectable } from '@nestjs/common';
import { CookieWriter } from '../http/cookies';
import { FingerprintService } from './fingerprint.service';
import { RefreshCredential, RefreshCredentialService } from './refresh-credential.service';

/** The two cookies a signed-in browser holds: the fingerprint and the refresh credential. */
@Injectable()
export class AuthCookiesService {
  constructor(
    private readonly fingerprints: FingerprintService,
    private readonly refreshCredentials: RefreshCredentialService,
    private readonly cookies: CookieWriter,
  ) {}

  /** Sets the cookies a login or refresh issued; null leaves that cookie as it is. */
  set(response: unknown, fingerprint: string | null, refresh: RefreshCredential | null): void {
    if (fingerprint !== null) {
      this.cookies.set(
        response,
        this.fingerprints.cookieName,
        fingerprint,
        this.fingerprints.cookieOptions(),
      );
    }
    if (refresh !== null) {
      this.cookies.set(
        response,
        this.refreshCredentials.cookieName,
        refresh.value,
        this.refreshCredentials.cookieOptions(),
      );
    }
  }

  /** Clears both cookies: the session they belonged to has ended. */
  clear(response: unknown): void {
    this.cookies.clear(
      response,
      this.fingerprints.cookieName,
      this.fingerprints.clearCookieOptions(),
    );
    this.cookies.clear(
      response,
      this.refreshCredentials.cookieName,
      this.refreshCredentials.clearCookieOptions(),
    );
  }
}
