import { AuditTrail } from '../audit/audit-trail';
import { Injectable } from '@nestjs/common';
import { ClientInfo } from '../http/client';
import {
  InvalidCredentialsError,
  StoreUnavailableError,
  UnauthenticatedError,
} from '../common/errors';
import { GeoLocator } from '../geoip/geo-locator';
import { SecurityEvents } from '../observability/security-events';
import { expiresAt, Session } from '../sessions/session';
import { SessionLimitReachedError, SessionStoreFullError } from '../sessions/session.errors';
import { newSessionId } from '../sessions/session-id';
import { SessionsService } from '../sessions/sessions.service';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { normaliseEmailOrNull } from '../users/email-address';
import { PublicUser, toPublicUser } from '../users/user';
import { UsersService } from '../users/users.service';
import { AccessTokenService } from './access-token.service';
import { FingerprintService } from './fingerprint.service';
import { safeEqual } from '../common/hashes';
import { RefreshCredential, RefreshCredentialService } from './refresh-credential.service';

/** What a login or refresh hands back: the body fields and the cookie values to set. */
export interface IssuedTokens {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly session: Session;
  /** New fingerprint cookie value; null when the grace rule re-issues a token for the current one. */
  readonly fingerprint: string | null;
  /** New refresh cookie; null when the grace rule applies (the cookie set moments ago stays). */
  readonly refresh: RefreshCredential | null;
}

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly fingerprints: FingerprintService,
    private readonly refreshCredentials: RefreshCredentialService,
    private readonly tokens: AccessTokenService,
    private readonly geo: GeoLocator,
    private readonly events: SecurityEvents,
    private readonly rateLimiter: RateLimiter,
    private readonly audit: AuditTrail,
  ) {}

  register(email: string, password: string, displayName?: string): Promise<PublicUser> {
    return this.users.register(email, password, displayName ?? null).then(toPublicUser);
  }

  /**
   * Checks the password, stores a session with a fresh fingerprint (never one the client sent),
   * makes sure the user still exists (see `deleteAccount`), and only then signs a token for it.
   */
  async login(email: string, password: string, client: ClientInfo): Promise<IssuedTokens> {
    let userId: string | undefined;
    try {
      const user = await this.users.authenticate(email, password);
      userId = user.id;
      const fingerprint = this.fingerprints.draw();
      const { session, refresh } = await this.startSession(user.id, fingerprint, client);
      await this.ensureUserOutlivedSession(user.id, session.id);
      this.events.login('success', client, {
        userId: user.id,
        sessionId: session.id,
        location: session.location,
      });
      return this.issue(session, fingerprint, refresh);
    } catch (error) {
      if (error instanceof InvalidCredentialsError) userId ??= error.accountId;
      this.events.login(loginFailure(error), client, { userId });
      throw error;
    }
  }

  /**
   * Rotates the refresh credential and the fingerprint. A just-rotated credential presented again
   * within the grace period gets a token for the session's current fingerprint and no new cookies;
   * presented later, it revokes the session (someone is replaying a stolen credential).
   */
  async refresh(cookieValue: string | undefined, client: ClientInfo): Promise<IssuedTokens> {
    const presented = this.refreshCredentials.parse(cookieValue);
    if (!presented) {
      this.events.refresh('invalid', client);
      throw new UnauthenticatedError();
    }
    const current = await this.sessions.find(presented.sessionId);
    if (current !== null && presentsCredentialOf(current, presented.hash)) {
      // Counted only once the secret matched: the session id alone is in every access token, so a
      // counter anyone could spend would let a leaked token lock the owner out of refreshing.
      await this.rateLimiter.consume('refresh', 'account', current.id, client);
      await this.refuseOrphan(current, client);
    }
    // Guarded requests record a new address without locating it (never on that path), so the
    // address a refresh compares with may already be the new one: once a session has moved since
    // login, every refresh locates it again.
    const mayHaveMoved =
      current !== null &&
      (current.ipAddress !== client.ipAddress || current.loginIpAddress !== null);
    const fingerprint = this.fingerprints.draw();
    const refresh = this.refreshCredentials.issue(presented.sessionId);
    const outcome = await this.sessions.rotateRefresh(presented.sessionId, {
      presentedHash: presented.hash,
      nextRefreshHash: refresh.hash,
      nextFingerprintHash: this.fingerprints.hash(fingerprint),
      ipAddress: client.ipAddress,
      userAgent: client.userAgent,
      ...(mayHaveMoved ? { location: this.geo.locate(client.ipAddress) } : {}),
    });
    this.events.refresh(outcome.kind, client, {
      sessionId: presented.sessionId,
      ...(outcome.kind === 'invalid'
        ? {}
        : { userId: outcome.session.userId, location: outcome.session.location }),
    });
    switch (outcome.kind) {
      case 'rotated':
        return this.issue(outcome.session, fingerprint, refresh);
      case 'grace':
        return this.issue(outcome.session, null, null);
      case 'reused':
        this.events.sessionRevoked(
          'refresh_reuse',
          1,
          { userId: outcome.session.userId, sessionId: outcome.session.id },
          client,
        );
        throw new UnauthenticatedError();
      case 'invalid':
        throw new UnauthenticatedError();
    }
  }

  /**
   * Deletes the account once its password is confirmed (`CurrentPasswordIncorrectError`
   * otherwise, and nothing changes): every session, the user row, and its rate-limit counters.
   *
   * Why no token of the user works afterwards, on any instance: sessions are ended, the row is
   * deleted, and sessions are ended again. A login that authenticated before the deletion stores
   * its session either before the second sweep (which removes it) or after it, and then its own
   * check that the user still exists (`ensureUserOutlivedSession`) comes after the row was
   * deleted, so it revokes that session and answers 401. The check must follow the store: one made
   * before it could pass, the sweeps and the deletion run, and the session be stored after them.
   * A refresh only
   * rotates an existing session, which the sweeps remove. Every guarded request needs a live
   * session, so once both sweeps are done nothing of the account is accepted; the first sweep
   * signs the user out at once even if the deletion then fails (503).
   */
  async deleteAccount(userId: string, password: string, client: ClientInfo): Promise<void> {
    const user = await this.users.confirmPassword(userId, password);
    const before = await this.sessions.endAll(userId);
    await this.users.delete(userId);
    const after = await this.sessions.endAll(userId);
    this.events.sessionRevoked('account_deleted', before + after, { userId }, client);
    await this.audit.forgetUser(userId);
    // The counters of the email under both the stored and the normalised spelling (they differ
    // only for accounts from before normalisation that could not be normalised).
    const emails = new Set([user.email, normaliseEmailOrNull(user.email) ?? user.email]);
    await Promise.all([
      ...[...emails].flatMap((email) => [
        this.rateLimiter.resetAccount('login', email),
        this.rateLimiter.resetAccount('register', email),
      ]),
      this.rateLimiter.resetAccount('password', userId),
    ]);
  }

  async logout(userId: string, sessionId: string, client?: ClientInfo): Promise<void> {
    await this.sessions.revoke(userId, sessionId, 'logout', client);
  }

  async me(userId: string, sessionId: string) {
    const user = await this.users.signedIn(userId);
    // The session was valid a moment ago; a user deleted since is an unauthenticated caller.
    if (!user) throw new UnauthenticatedError();
    return { id: user.id, email: user.email, displayName: user.displayName, sessionId };
  }

  /** Changes the password and ends every other session of the user (ASVS 3.3.3). */
  async changePassword(
    userId: string,
    sessionId: string,
    current: string,
    next: string,
    client?: ClientInfo,
  ): Promise<number> {
    await this.users.changePassword(userId, current, next);
    const count = await this.sessions.revokeOthers(userId, sessionId, 'password_change', client);
    this.events.passwordChanged({ userId, sessionId, count }, client);
    return count;
  }

  /**
   * The user behind a session just stored must still exist: one deleted meanwhile gets no token,
   * and the session goes (see `deleteAccount`). A failing check also removes the session.
   */
  private async ensureUserOutlivedSession(userId: string, sessionId: string): Promise<void> {
    let exists: boolean;
    try {
      exists = (await this.users.findById(userId)) !== null;
    } catch (error) {
      await this.sessions.discard(sessionId, userId).catch(() => null);
      throw error;
    }
    if (exists) return;
    await this.sessions.discard(sessionId, userId);
    throw new InvalidCredentialsError();
  }

  /**
   * A session whose user no longer exists (deleted outside the service, say straight in the
   * database) is refused, and every session of that user ends.
   */
  private async refuseOrphan(session: Session, client: ClientInfo): Promise<void> {
    if ((await this.users.findById(session.userId)) !== null) return;
    await this.users.forget(session.userId);
    const revoked = await this.sessions.endAll(session.userId);
    this.events.sessionRevoked(
      'user_missing',
      revoked,
      { userId: session.userId, sessionId: session.id },
      client,
    );
    throw new UnauthenticatedError();
  }

  private async startSession(userId: string, fingerprint: string, client: ClientInfo) {
    const id = newSessionId(userId);
    const refresh = this.refreshCredentials.issue(id);
    const { session } = await this.sessions.start({
      id,
      userId,
      fingerprintHash: this.fingerprints.hash(fingerprint),
      refreshHash: refresh.hash,
      ipAddress: client.ipAddress,
      userAgent: client.userAgent,
      location: this.geo.locate(client.ipAddress),
    });
    return { session, refresh };
  }

  private issue(
    session: Session,
    fingerprint: string | null,
    refresh: RefreshCredential | null,
  ): IssuedTokens {
    return {
      accessToken: this.tokens.sign(session.userId, session.id, session.fingerprintHash),
      expiresIn: this.tokens.ttl,
      session,
      fingerprint,
      refresh,
    };
  }
}

function loginFailure(error: unknown) {
  if (error instanceof InvalidCredentialsError) return 'invalid_credentials' as const;
  if (error instanceof SessionLimitReachedError) return 'session_limit' as const;
  if (error instanceof SessionStoreFullError) return 'store_full' as const;
  if (error instanceof StoreUnavailableError) return 'store_unavailable' as const;
  return 'store_unavailable' as const;
}

/** Whether a presented refresh secret hash is the session's current or just-rotated one. */
function presentsCredentialOf(session: Session, presentedHash: string): boolean {
  return (
    safeEqual(session.refreshHash, presentedHash) ||
    (session.previousRefreshHash !== null && safeEqual(session.previousRefreshHash, presentedHash))
  );
}

export const sessionExpiresAtIso = (session: Session): string =>
  new Date(expiresAt(session) * 1000).toISOString();
