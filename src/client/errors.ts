import type { ErrorCode, ErrorResponse } from '../http/contract.js';

/**
 * An answer of the service that was not a success, as a value: `status`, the server's `code` where
 * it sends one (`SESSION_LIMIT_REACHED`, `RATE_LIMITED`, `STORE_UNAVAILABLE`, …), its `message`,
 * and `retryAfter` when it sent `Retry-After`.
 *
 * ```ts
 * try {
 *   await auth.login({ email, password });
 * } catch (error) {
 *   if (error instanceof FingerprintAuthError && error.code === 'RATE_LIMITED') {
 *     showMessage(`Try again in ${error.retryAfter ?? 60} s`);
 *   }
 * }
 * ```
 */
export class FingerprintAuthError extends Error {
  override readonly name = 'FingerprintAuthError';
  /** The HTTP status (401, 403, 409, 429, 503, …). */
  readonly status: number;
  /**
   * The server's machine-readable reason, where the route sends one (docs/api.md, "Errors");
   * undefined otherwise. A newer server may send a code this client's types do not list yet.
   */
  readonly code: ErrorCode | undefined;
  /** Every message of the answer: one, or one per problem of an invalid body (400). */
  readonly messages: readonly string[];
  /** Seconds to wait before trying again, from `Retry-After` (429, 503); undefined without one. */
  readonly retryAfter: number | undefined;
  /** The parsed error body, when the answer had one in the service's shape. */
  readonly body: ErrorResponse | undefined;

  constructor(init: {
    status: number;
    code?: ErrorCode;
    messages?: readonly string[];
    retryAfter?: number;
    body?: ErrorResponse;
  }) {
    const messages = init.messages?.length ? init.messages : [`HTTP ${init.status}`];
    super(messages.join('; '));
    this.status = init.status;
    this.code = init.code;
    this.messages = messages;
    this.retryAfter = init.retryAfter;
    this.body = init.body;
  }
}

/**
 * `Retry-After` in seconds: the delay form (`"30"`) or the HTTP-date form, counted from `now`
 * (never negative); undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

function isErrorResponse(value: unknown): value is ErrorResponse {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as Record<string, unknown>;
  const message = body.message;
  return (
    typeof body.statusCode === 'number' &&
    (typeof message === 'string' ||
      (Array.isArray(message) && message.every((item) => typeof item === 'string'))) &&
    (body.code === undefined || typeof body.code === 'string')
  );
}

/**
 * The error of a non-2xx answer. Reads the body (so call it once, on a response nobody else
 * reads): the service's error shape gives `code` and the messages; any other body (a proxy's HTML
 * page, nothing at all) gives the status text.
 */
export async function errorFromResponse(response: Response): Promise<FingerprintAuthError> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // The body could not be read (connection cut): the status still says what happened.
  }
  let body: ErrorResponse | undefined;
  try {
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (isErrorResponse(parsed)) body = parsed;
  } catch {
    // Not JSON: not one of the service's answers.
  }
  const messages =
    body === undefined
      ? [response.statusText || `HTTP ${response.status}`]
      : typeof body.message === 'string'
        ? [body.message]
        : [...body.message];
  return new FingerprintAuthError({
    status: response.status,
    code: body?.code,
    messages,
    retryAfter: parseRetryAfter(response.headers.get('retry-after')),
    body,
  });
}
