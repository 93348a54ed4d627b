import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  UnsupportedMediaTypeException,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { HttpRequestLike } from './client';
import { DomainExceptionFilter } from './exception.filter';

export const JSON_ONLY_MESSAGE =
  'Request body must be application/json (Content-Type: application/json)';

/**
 * Refuses a request body of any other type than JSON with 415, whatever body parsers the host app
 * registered. Part of the CSRF defence: a cross-site form can only send form encodings or text.
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const { headers } = context.switchToHttp().getRequest<HttpRequestLike>();
    const length = headers['content-length'];
    const hasBody =
      (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
    if (!hasBody) return true;
    if (/^application\/json\s*(;|$)/i.test(headers['content-type'] ?? '')) return true;
    throw new UnsupportedMediaTypeException(JSON_ONLY_MESSAGE);
  }
}

/**
 * What every controller of the library carries, so its routes keep their error shapes in any host
 * app without a global filter: the exception filter and the JSON-only body check, then the given
 * guards. Bodies and queries are validated by their own parameter's pipe (`ValidatedBody`,
 * `ValidatedQuery`), not by a controller-wide one, which Nest would also run on every other
 * parameter: on a guarded route's `@CurrentUser()`, a `Promise.all` and an async pipe call a
 * request, for a value that needs neither.
 */
export const LibraryRoutes = (...guards: Parameters<typeof UseGuards>) =>
  applyDecorators(UseFilters(DomainExceptionFilter), UseGuards(JsonBodyGuard, ...guards));
