import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ErrorCode, ErrorResponse } from './contract';
import { everyMember } from '../common/every-member';

export type { ErrorCode };

/**
 * Every `code` an error answer can carry (the union is `ErrorCode` in the contract,
 * src/client/contract.ts). Each documented response names the ones it can.
 */
export const ERROR_CODES = everyMember<ErrorCode>()([
  'CURRENT_PASSWORD_INCORRECT',
  'EMAIL_TAKEN',
  'RATE_LIMITED',
  'SESSION_LIMIT_REACHED',
  'SESSION_STORE_FULL',
  'STORE_UNAVAILABLE',
]);

/** Every error answer: Nest's shape, plus `code` where a client must tell reasons apart. */
export class ErrorResponseDto implements ErrorResponse {
  @ApiProperty({ example: 401 })
  statusCode!: number;

  @ApiProperty({
    description: 'What went wrong; a list of messages for an invalid body',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'Invalid or missing credentials',
  })
  message!: string | string[];

  @ApiProperty({ description: 'HTTP reason phrase', example: 'Unauthorized' })
  error!: string;

  @ApiPropertyOptional({
    enum: ERROR_CODES,
    description:
      'Machine-readable reason, where a client must tell reasons apart. A response that can ' +
      'carry one lists its codes and always sends one of them; other responses send none.',
  })
  code?: ErrorCode;
}
