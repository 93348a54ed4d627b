import { createHash } from 'node:crypto';
import type { ExecutionContext } from '@nestjs/common';
import type { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import type { RateLimitRule } from './rate-limit.store';

/** The routes with rate limits; each is limited per client IP and per account. */
export type RateLimitedRoute = 'login' | 'register' | 'refresh' | 'password';

/** `ip`: the client address (`request.ip`: the app's proxy trust decides it). `account`: see `AuthRateLimitGuard`. */
export type RateLimitScope = 'ip' | 'account';

export interface RateLimitPolicy {
  readonly ip: number;
  readonly account: number;
}

export interface RateLimits {
  /** One window for every limit, in seconds; a blocked caller waits out the rest of it. */
  readonly windowSeconds: number;
  readonly routes: Readonly<Record<RateLimitedRoute, RateLimitPolicy>>;
}

/** The limits in force (`RateLimits`), as a provider. */
export const RATE_LIMITS = Symbol('RATE_LIMITS');

/** Metadata naming the route's limits; set by `@RateLimited()`. */
export const RATE_LIMITED_ROUTE = 'fingerprint-auth:rate-limited-route';

export function rateLimitsFrom(config: FingerprintAuthConfig): RateLimits {
  return {
    windowSeconds: config.rateLimitWindow,
    routes: {
      login: { ip: config.rateLimitLoginPerIp, account: config.rateLimitLoginPerAccount },
      register: { ip: config.rateLimitRegisterPerIp, account: config.rateLimitRegisterPerAccount },
      refresh: { ip: config.rateLimitRefreshPerIp, account: config.rateLimitRefreshPerSession },
      password: { ip: config.rateLimitPasswordPerIp, account: config.rateLimitPasswordPerAccount },
    },
  };
}

/** The route a handler's limits belong to; undefined for a handler without `@RateLimited()`. */
export function rateLimitedRoute(context: ExecutionContext): RateLimitedRoute | undefined {
  return Reflect.getMetadata(RATE_LIMITED_ROUTE, context.getHandler()) as
    RateLimitedRoute | undefined;
}

/** The rule counting `route` per `scope`: its name and limit, in the common window. */
export function rateLimitRule(
  limits: RateLimits,
  route: RateLimitedRoute,
  scope: RateLimitScope,
): RateLimitRule {
  return {
    name: `${route}:${scope}`,
    limit: limits.routes[route][scope],
    windowSeconds: limits.windowSeconds,
  };
}

/**
 * The key a tracker (an address, email, session or user id) is counted under: its SHA-256, so
 * keys have a fixed length and an email never sits in Redis in clear.
 */
export const rateLimitKey = (tracker: string): string =>
  createHash('sha256').update(tracker).digest('base64url');
