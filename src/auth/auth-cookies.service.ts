import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { FingerprintService } from './fingerprint.service';
import { RefreshCredential, RefreshCredentialService } from './refresh-credential.service';

/** The two cookies a signed-in browser holds: the fingerprint and the refresh credential. */
@Injectable()
export class AuthCookiesService {
  constructor(
    private readonly fingerprints: FingerprintService,
    private readonly refreshCredentials: RefreshCredentialService,
  ) {}

  /** Sets the cookies a login or refresh issued; null leaves that cookie as it is. */
  set(reply: FastifyReply, fingerprint: string | null, refresh: RefreshCredential | null): void {
    if (fingerprint !== null) {
      void reply.setCookie(
        this.fingerprints.cookieName,
        fingerprint,
        this.fingerprints.cookieOptions(),
      );
    }
    if (refresh !== null) {
      void reply.setCookie(
        this.refreshCredentials.cookieName,
        refresh.value,
        this.refreshCredentials.cookieOptions(),
      );
    }
  }

  /** Clears both cookies: the session they belonged to has ended. */
  clear(reply: FastifyReply): void {
    void reply.clearCookie(this.fingerprints.cookieName, this.fingerprints.clearCookieOptions());
    void reply.clearCookie(
      this.refreshCredentials.cookieName,
      this.refreshCredentials.clearCookieOptions(),
    );
  }
}
