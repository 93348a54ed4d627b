import { applyDecorators, HttpStatus } from '@nestjs/common';
import { ApiResponse, ApiSecurity } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto';

/** Security scheme names in the OpenAPI document (see `setupOpenApi`). */
export const BEARER_SCHEME = 'bearer';
export const FINGERPRINT_SCHEME = 'fingerprint';
export const REFRESH_SCHEME = 'refresh';

/** An error answer with the common error shape. */
export const ApiError = (status: HttpStatus, description: string) =>
  ApiResponse({ status, description, type: ErrorResponseDto });

/** A guarded route: the bearer token AND the fingerprint cookie (one requirement, both schemes). */
export const ApiGuarded = () =>
  applyDecorators(
    ApiSecurity({ [BEARER_SCHEME]: [], [FINGERPRINT_SCHEME]: [] }),
    ApiError(
      HttpStatus.UNAUTHORIZED,
      'Token, fingerprint cookie or session missing, invalid, expired or revoked (one answer for all)',
    ),
    ApiError(
      HttpStatus.SERVICE_UNAVAILABLE,
      'A store is unavailable (code STORE_UNAVAILABLE); Retry-After says when to try again',
    ),
  );

/** A route taking a JSON body. */
export const ApiJsonBody = () =>
  applyDecorators(
    ApiError(HttpStatus.BAD_REQUEST, 'Invalid body: every problem is listed in `message`'),
    ApiError(HttpStatus.PAYLOAD_TOO_LARGE, 'Body larger than BODY_LIMIT'),
    ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'Body is not application/json'),
  );
