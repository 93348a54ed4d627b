import type { IncomingHttpHeaders } from 'node:http';
import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { parse, serialize, type SerializeOptions } from 'cookie';

export type CookieOptions = Pick<
  SerializeOptions,
  'httpOnly' | 'secure' | 'sameSite' | 'path' | 'maxAge' | 'domain' | 'expires'
>;

/**
 * Where a request keeps its cookies, parsed once (the guard and a route may both ask): a property
 * under this symbol, not a WeakMap keyed by the request (cheaper on every guarded request).
 */
const PARSED_COOKIES = Symbol('fingerprint-auth: cookies');

const keepAsSent = (value: string): string => value;

/**
 * The value of cookie `name` exactly as the request sent it, or undefined. Read from the raw
 * `Cookie` header, whatever the HTTP adapter and whether or not the host app registered a cookie
 * plugin; never percent-decoded: the service's cookies are base64url, so an encoded variant of a
 * value is not the value that was set and fails like any other wrong one.
 */
export function requestCookie(
  request: { headers?: IncomingHttpHeaders },
  name: string,
): string | undefined {
  const holder = request as { [PARSED_COOKIES]?: Record<string, string | undefined> };
  let cookies = holder[PARSED_COOKIES];
  if (cookies === undefined) {
    const header = request.headers?.cookie;
    cookies = typeof header === 'string' ? parse(header, { decode: keepAsSent }) : {};
    holder[PARSED_COOKIES] = cookies;
  }
  return cookies[name];
}

/**
 * Writes `Set-Cookie` headers through the host app's own HTTP adapter (Express or Fastify, Nest
 * 11 or 12), appending, so several cookies set for one answer are all sent. No cookie plugin is
 * needed.
 */
@Injectable()
export class CookieWriter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  set(response: unknown, name: string, value: string, options: CookieOptions): void {
    const header = serialize(name, value, { ...options, encode: (text) => text });
    this.adapterHost.httpAdapter.appendHeader(response, 'Set-Cookie', header);
  }

  /** Expires the cookie at once; `path` (and `domain`) must be the ones it was set with. */
  clear(response: unknown, name: string, options: CookieOptions): void {
    this.set(response, name, '', { ...options, maxAge: 0, expires: new Date(0) });
  }
}
