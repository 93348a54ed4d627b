import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ErrorCode } from './error-response.dto';
import {
  CurrentPasswordIncorrectError,
  DomainError,
  EmailTakenError,
  InvalidCredentialsError,
  StoreUnavailableError,
  UnauthenticatedError,
} from '../common/errors';
import { classifyStoreFailure } from '../common/store-failure';
import {
  SessionLimitReachedError,
  SessionNotFoundError,
  SessionStoreFullError,
} from '../sessions/session.errors';
import { TooManyAttemptsError } from '../rate-limit/rate-limit.errors';
import { EmailNotAcceptedError } from '../users/user.errors';

interface ErrorBody {
  statusCode: number;
  message: string | string[];
  error: string;
  code?: ErrorCode;
}

/** A store that failed is usually back within a second or two (reconnect, failover). */
const RETRY_AFTER_SECONDS = 1;

/** What the filter reads of a request, on any HTTP adapter. */
interface RequestLike {
  readonly id?: unknown;
  readonly method?: string;
  readonly url?: string;
  readonly originalUrl?: string;
  /** Fastify: the matched route's pattern; absent when no route matched. */
  readonly routeOptions?: { readonly url?: string };
  /** Express: the matched route; absent when no route matched. */
  readonly route?: unknown;
}
/** A full store frees room as sessions expire; the sweep runs every minute by default. */
const STORE_FULL_RETRY_AFTER_SECONDS = 30;

/**
 * The one place errors become HTTP. Domain errors get their status; Nest's HttpExceptions pass
 * through with Nest's shape; the HTTP framework's own 4xx (malformed JSON, body too large, bad
 * media type) keep their status; anything else is logged and answered as a bare 500 with no
 * detail. Answers through the app's HTTP adapter, so it serves Express and Fastify alike: the
 * library's routes use it, and the standalone service uses it for every route.
 */
@Catch()
export class DomainExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<unknown>();
    const request = http.getRequest<RequestLike | undefined>();
    const reqId = typeof request?.id === 'string' ? request.id : undefined;
    const { body, headers } = this.toResponse(unmatchedRoute(exception, request), reqId);
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, body, body.statusCode);
  }

  private toResponse(
    exception: unknown,
    reqId: string | undefined,
  ): { body: ErrorBody; headers: Record<string, string> } {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const body: ErrorBody =
        typeof response === 'object' && response !== null
          ? {
              statusCode: status,
              error: reasonPhrase(status),
              message: exception.message,
              ...response,
            }
          : {
              statusCode: status,
              error: reasonPhrase(status),
              // Fastify's own errors (bad media type, body too large) arrive here as strings.
              message: FIXED_MESSAGES[status] ?? String(response),
            };
      return { body, headers: {} };
    }
    if (exception instanceof DomainError) return this.fromDomain(exception, reqId);

    const status = fastifyClientErrorStatus(exception);
    if (status !== undefined) {
      const message = FIXED_MESSAGES[status] ?? (exception as Error).message;
      return { body: { statusCode: status, error: reasonPhrase(status), message }, headers: {} };
    }

    this.logger.error({
      event: 'unhandled_error',
      reqId,
      error:
        exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    });
    return {
      body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' },
      headers: {},
    };
  }

  private fromDomain(
    error: DomainError,
    reqId: string | undefined,
  ): { body: ErrorBody; headers: Record<string, string> } {
    const make = (statusCode: number, code?: ErrorCode, headers: Record<string, string> = {}) => ({
      body: {
        statusCode,
        error: reasonPhrase(statusCode),
        message: error.message,
        ...(code ? { code } : {}),
      },
      headers,
    });
    if (error instanceof InvalidCredentialsError || error instanceof UnauthenticatedError) {
      return make(HttpStatus.UNAUTHORIZED);
    }
    if (error instanceof CurrentPasswordIncorrectError) {
      return make(HttpStatus.FORBIDDEN, 'CURRENT_PASSWORD_INCORRECT');
    }
    if (error instanceof EmailNotAcceptedError) return make(HttpStatus.BAD_REQUEST);
    if (error instanceof SessionNotFoundError) return make(HttpStatus.NOT_FOUND);
    if (error instanceof EmailTakenError) return make(HttpStatus.CONFLICT, 'EMAIL_TAKEN');
    if (error instanceof SessionLimitReachedError)
      return make(HttpStatus.CONFLICT, 'SESSION_LIMIT_REACHED');
    if (error instanceof TooManyAttemptsError) {
      return make(HttpStatus.TOO_MANY_REQUESTS, 'RATE_LIMITED', {
        'retry-after': String(error.retryAfterSeconds),
      });
    }
    if (error instanceof SessionStoreFullError) {
      return make(HttpStatus.SERVICE_UNAVAILABLE, 'SESSION_STORE_FULL', {
        'retry-after': String(STORE_FULL_RETRY_AFTER_SECONDS),
      });
    }
    if (error instanceof StoreUnavailableError) {
      // The reason and the driver's code, never its message (it can name hosts and users).
      this.logger.error({
        event: 'store_unavailable',
        reqId,
        store: error.store,
        ...classifyStoreFailure(error.cause),
      });
      return make(HttpStatus.SERVICE_UNAVAILABLE, 'STORE_UNAVAILABLE', {
        'retry-after': String(RETRY_AFTER_SECONDS),
      });
    }
    // A domain error without a mapping is a programming error: log it, answer a bare 500.
    this.logger.error({ event: 'unmapped_domain_error', reqId, error: error.name });
    return make(HttpStatus.INTERNAL_SERVER_ERROR);
  }
}

/** Longest part of an unknown path an answer repeats: enough to spot a typo, not a 9 KB echo. */
export const ECHOED_PATH_LENGTH = 64;

/** A URL's path for an error message: no query (it may hold a token), at most 64 characters. */
export function echoedPath(url: string): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path.length > ECHOED_PATH_LENGTH ? `${path.slice(0, ECHOED_PATH_LENGTH)}…` : path;
}

/**
 * Nest answers a path no route matched with "Cannot GET <the whole URL>", query and all: the
 * same 404 here names the method and a capped path only.
 */
function unmatchedRoute(exception: unknown, request: RequestLike | undefined): unknown {
  if (
    !(exception instanceof NotFoundException) ||
    !request ||
    request.routeOptions?.url ||
    request.route
  ) {
    return exception;
  }
  const url = request.originalUrl ?? request.url ?? '';
  return new NotFoundException(`Cannot ${request.method ?? 'GET'} ${echoedPath(url)}`);
}

/** What a client must change, where Fastify's own wording only names the status. */
const FIXED_MESSAGES: Record<number, string> = {
  413: 'Request body is too large',
  415: 'Request body must be application/json (Content-Type: application/json)',
};

/** The frameworks raise plain errors with a 4xx `statusCode` (or `status`) for bad bodies and media types. */
function fastifyClientErrorStatus(exception: unknown): number | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const { statusCode, status: expressStatus } = exception as {
    statusCode?: unknown;
    status?: unknown;
  };
  const status = typeof statusCode === 'number' ? statusCode : expressStatus;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

const PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function reasonPhrase(status: number): string {
  return PHRASES[status] ?? (status < 500 ? 'Bad Request' : 'Internal Server Error');
}
