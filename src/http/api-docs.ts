import { applyDecorators, HttpStatus, type INestApplication } from '@nestjs/common';
import {
  ApiExtraModels,
  type DocumentBuilder,
  ApiResponse,
  ApiSecurity,
  DECORATORS,
  getSchemaPath,
  type HeadersObject,
  type ReferenceObject,
  type SchemaObject,
} from '@nestjs/swagger';
import { FingerprintService } from '../auth/fingerprint.service';
import { RefreshCredentialService } from '../auth/refresh-credential.service';
import { ErrorCode, ErrorResponseDto } from './error-response.dto';

/** Security scheme names in the OpenAPI document (see `setupOpenApi`). */
export const BEARER_SCHEME = 'bearer';
export const FINGERPRINT_SCHEME = 'fingerprint';
export const REFRESH_SCHEME = 'refresh';

/**
 * Adds the security schemes the library's routes name (`bearer`, `fingerprint`, `refresh`) to a
 * host's OpenAPI document, with the cookie names this app uses:
 *
 * ```ts
 * const config = withFingerprintAuth(new DocumentBuilder().setTitle('My API'), app).build();
 * SwaggerModule.setup('docs', app, SwaggerModule.createDocument(app, config));
 * ```
 */
export function withFingerprintAuth(
  builder: DocumentBuilder,
  app: Pick<INestApplication, 'get'>,
): DocumentBuilder {
  const fingerprintCookie = app.get(FingerprintService, { strict: false }).cookieName;
  const refresh = app.get(RefreshCredentialService, { strict: false });
  return builder
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token' },
      BEARER_SCHEME,
    )
    .addCookieAuth(
      fingerprintCookie,
      {
        type: 'apiKey',
        in: 'cookie',
        name: fingerprintCookie,
        description:
          'HttpOnly fingerprint cookie set at login; its SHA-256 is the token’s `fgp` claim',
      },
      FINGERPRINT_SCHEME,
    )
    .addCookieAuth(
      refresh.cookieName,
      {
        type: 'apiKey',
        in: 'cookie',
        name: refresh.cookieName,
        description: `HttpOnly refresh credential (Path=${refresh.path}), rotated on every use`,
      },
      REFRESH_SCHEME,
    );
}

/** The exception filter sends Retry-After with every 429 and 503 it answers. */
const RETRY_AFTER: HeadersObject = {
  'Retry-After': {
    description: 'Seconds to wait before trying again',
    schema: { type: 'integer', minimum: 1 },
  },
};

/** Codes declared so far per status, on a method or a controller (merged across decorators). */
const ERROR_CODES_METADATA = 'fpa:api-error-codes';
type CodesByStatus = Record<number, readonly ErrorCode[]>;

/**
 * The schema of an error response: the shared error shape, and when the response carries a `code`,
 * the codes it can carry (then always one of them).
 */
export function errorSchema(codes: readonly ErrorCode[]): SchemaObject | ReferenceObject {
  const shape = { $ref: getSchemaPath(ErrorResponseDto) };
  if (codes.length === 0) return shape;
  return {
    allOf: [
      shape,
      {
        type: 'object',
        required: ['code'],
        properties: { code: { type: 'string', enum: [...codes] } },
      },
    ],
  };
}

/**
 * An error answer in the common error shape, with the `code`s it can carry. Declared twice for one
 * status (on the route, by a shared decorator, or on the controller), the codes add up and the
 * descriptions are joined. 429 and 503 document Retry-After.
 */
export function ApiError(
  status: HttpStatus,
  description: string,
  codes: readonly ErrorCode[] = [],
): MethodDecorator & ClassDecorator {
  return (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder: object = descriptor ? (descriptor.value as object) : target;
    const known = (Reflect.getMetadata(ERROR_CODES_METADATA, holder) ?? {}) as CodesByStatus;
    const merged = [...new Set([...(known[status] ?? []), ...codes])].sort();
    Reflect.defineMetadata(ERROR_CODES_METADATA, { ...known, [status]: merged }, holder);
    const response = ApiResponse({
      status,
      description,
      schema: errorSchema(merged),
      ...(status === HttpStatus.TOO_MANY_REQUESTS || status === HttpStatus.SERVICE_UNAVAILABLE
        ? { headers: RETRY_AFTER }
        : {}),
    });
    if (descriptor) {
      ApiExtraModels(ErrorResponseDto)(target, key as string | symbol, descriptor);
      response(target, key as string | symbol, descriptor);
      return;
    }
    ApiExtraModels(ErrorResponseDto)(target as () => void);
    response(target as () => void);
    // A route's own entry for a status replaces the controller's: add this one to it. (Class
    // decorators run after the methods', so every route's own entries are known by now.)
    const prototype = (target as { prototype: Record<string, unknown> }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const method = Object.getOwnPropertyDescriptor(prototype, name);
      if (name === 'constructor' || typeof method?.value !== 'function') continue;
      const own = Reflect.getMetadata(DECORATORS.API_RESPONSE, method.value) as
        Record<string, unknown> | undefined;
      if (own?.[status]) ApiError(status, description, codes)(prototype, name, method);
    }
  };
}

/** A guarded route: the bearer token AND the fingerprint cookie (one requirement, both schemes). */
export const ApiGuarded = () =>
  applyDecorators(
    ApiSecurity({ [BEARER_SCHEME]: [], [FINGERPRINT_SCHEME]: [] }),
    ApiError(
      HttpStatus.UNAUTHORIZED,
      'Token, fingerprint cookie or session missing, invalid, expired or revoked (one answer for all)',
    ),
    ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'The session store is unavailable', [
      'STORE_UNAVAILABLE',
    ]),
  );

/** What every request body, wanted or not, can get: it is parsed as JSON before the route runs. */
const bodyParsingErrors = (invalid: string) =>
  applyDecorators(
    ApiError(HttpStatus.BAD_REQUEST, invalid),
    ApiError(HttpStatus.PAYLOAD_TOO_LARGE, 'Body larger than BODY_LIMIT'),
    ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'Body is not application/json'),
  );

/** A route taking a JSON body. */
export const ApiJsonBody = () =>
  bodyParsingErrors(
    'Invalid body (every problem is listed in `message`), malformed JSON, a `__proto__` or ' +
      '`constructor` key, or nesting too deep',
  );

/** A POST or DELETE taking no body: none or an empty one is fine, but any other must be JSON. */
export const ApiNoBody = () =>
  bodyParsingErrors(
    'A body was sent and is malformed JSON, has a `__proto__` or `constructor` key, or nests too deep',
  );
