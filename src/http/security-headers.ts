import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { HelmetOptions } from 'helmet';

const DIRECTIVES = {
  defaultSrc: ["'self'"],
  // The OpenAPI UI at /docs needs its inline bootstrap script and styles.
  scriptSrc: ["'self'", "'unsafe-inline'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
};

/** helmet's settings for this service: its defaults, with a CSP the OpenAPI UI at /docs can run under. */
export const HELMET_OPTIONS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: { directives: DIRECTIVES },
};

/**
 * The same without what only makes sense over https: Strict-Transport-Security (a promise of https
 * the service cannot keep over plain http) and the CSP's `upgrade-insecure-requests`, which makes
 * a browser fetch a page's scripts and styles (the /docs UI) over https, where a plain-http setup
 * (COOKIE_SECURE=false: local or test) serves nothing.
 */
export const PLAIN_HTTP_HELMET_OPTIONS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: { directives: { ...DIRECTIVES, upgradeInsecureRequests: null } },
  strictTransportSecurity: false,
};

/** helmet's settings for a service reached over https (COOKIE_SECURE=true) or plain http. */
export function helmetOptions(https: boolean): Readonly<HelmetOptions> {
  return https ? HELMET_OPTIONS : PLAIN_HTTP_HELMET_OPTIONS;
}

/**
 * The headers helmet sets for `options`, worked out once. They depend on nothing in the request
 * (no CSP nonces here), so computing them per request, as @fastify/helmet does (it builds a new
 * helmet middleware for every request), only costs time: ~10% of a small request's CPU.
 */
export function securityHeaders(
  options: Readonly<HelmetOptions> = HELMET_OPTIONS,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)(
    {} as IncomingMessage,
    response as unknown as ServerResponse,
    (error?: unknown) => {
      failure = error;
    },
  );
  if (failure) throw failure;
  return headers;
}

/** What of helmet's set an answer that is not a page keeps as it is. */
const KEPT_FOR_API = [
  'strict-transport-security',
  'x-content-type-options',
  'referrer-policy',
  'cross-origin-resource-policy',
] as const;

/**
 * The headers of every answer that is not an HTML page (JSON above all): OWASP's set for APIs
 * (its REST Security Cheat Sheet), taken from helmet's `pageHeaders` where they are the same. A
 * CSP that allows nothing and no framing (`default-src 'none'; frame-ancestors 'none'`), and
 * `X-Frame-Options: DENY` for browsers without CSP; HSTS (over https), `nosniff`, `no-referrer`
 * and `Cross-Origin-Resource-Policy: same-origin` as helmet sends them. helmet's other headers
 * (COOP, Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options,
 * X-Permitted-Cross-Domain-Policies, X-XSS-Protection) only mean something for a page a browser
 * renders; leaving them off takes about 400 bytes off each JSON answer's headers.
 */
export function apiSecurityHeaders(
  pageHeaders: Readonly<Record<string, string>>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of KEPT_FOR_API) {
    if (pageHeaders[name] !== undefined) headers[name] = pageHeaders[name];
  }
  headers['content-security-policy'] = "default-src 'none'; frame-ancestors 'none'";
  headers['x-frame-options'] = 'DENY';
  return headers;
}
