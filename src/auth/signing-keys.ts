import { createHash, createSecretKey, KeyObject } from 'node:crypto';
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../common/clock';
import { JwtSecrets } from '../options/jwt-secrets';

/** Hashed with the key to name it; a fixed label keeps the id apart from any other use of the hash. */
const KEY_ID_LABEL = 'fingerprint-auth jwt kid v1\0';

/**
 * The `kid` header of tokens signed with `secret`: the first 16 base64url characters (96 bits) of
 * SHA-256 over a fixed label and the key. It names the key without revealing it (the key has at
 * least 32 bytes, far beyond guessing from a hash).
 */
export function keyId(secret: Buffer): string {
  return createHash('sha256').update(KEY_ID_LABEL).update(secret).digest('base64url').slice(0, 16);
}

export interface SigningKey {
  readonly kid: string;
  /** A prepared KeyObject: jsonwebtoken then skips trying it as a PEM on every call. */
  readonly key: KeyObject;
}

const signingKeyOf = (secret: Buffer): SigningKey => ({
  kid: keyId(secret),
  key: createSecretKey(secret),
});

/**
 * The HS256 keys of this process. The current key (JWT_SECRET / JWT_SECRET_FILE / DATA_DIR's)
 * signs every token and verifies. Previous keys (JWT_PREVIOUS_SECRETS) only verify, and only for
 * ACCESS_TOKEN_TTL after this process started: the longest a token they signed before the start
 * can live. Past that they are ignored and one log line says they can be removed.
 */
export class SigningKeys implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly current: SigningKey;
  private readonly previous: ReadonlyMap<string, SigningKey>;
  /** Milliseconds (clock time) until which previous keys verify. */
  readonly previousAcceptedUntil: number;
  private previousRetired: boolean;
  private timer: NodeJS.Timeout | null = null;
  private readonly logger = new Logger('SigningKeys');

  constructor(
    secrets: JwtSecrets,
    ttlSeconds: number,
    private readonly clock: Clock,
  ) {
    this.current = signingKeyOf(secrets.current);
    const previous = new Map<string, SigningKey>();
    for (const secret of secrets.previous) {
      const key = signingKeyOf(secret);
      // The current key listed again (a rotation not yet cleaned up) adds nothing.
      if (key.kid !== this.current.kid) previous.set(key.kid, key);
    }
    this.previous = previous;
    this.previousAcceptedUntil = clock.now() + ttlSeconds * 1000;
    this.previousRetired = previous.size === 0;
  }

  /** Every key that may verify now: the current one, then previous ones within their window. */
  verificationKeys(): SigningKey[] {
    return this.previousAccepted() ? [this.current, ...this.previous.values()] : [this.current];
  }

  /**
   * The key that verifies a token with this `kid` header, or null when no key accepted now has
   * that id. A token without `kid` (issued before keys had ids) is verified with the current key
   * only.
   */
  verificationKey(kid: string | undefined): KeyObject | null {
    if (kid === undefined || kid === this.current.kid) return this.current.key;
    const previous = this.previous.get(kid);
    return previous !== undefined && this.previousAccepted() ? previous.key : null;
  }

  /** Whether previous keys still verify; logs once when their window has just closed. */
  private previousAccepted(): boolean {
    if (this.previousRetired) return false;
    if (this.clock.now() < this.previousAcceptedUntil) return true;
    this.previousRetired = true;
    this.logger.log({
      event: 'previous_keys_retired',
      keys: this.previous.size,
      message:
        'the previous signing keys (JWT_PREVIOUS_SECRETS, jwtPreviousSecrets) are no longer accepted: the access-token lifetime has passed since start, so every token they signed has expired; remove them from the configuration',
    });
    return false;
  }

  onApplicationBootstrap(): void {
    if (this.previousRetired) return;
    const delay = Math.max(0, this.previousAcceptedUntil - this.clock.now());
    // Says so when the window closes even if no old token arrives to notice it.
    this.timer = setTimeout(() => this.previousAccepted(), delay + 1000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
