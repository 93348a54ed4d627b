import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Every error answer: Nest's shape, plus `code` where a client must tell reasons apart. */
export class ErrorResponseDto {
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
    enum: ['EMAIL_TAKEN', 'SESSION_LIMIT_REACHED', 'SESSION_STORE_FULL', 'STORE_UNAVAILABLE'],
    description: 'Machine-readable reason, where a client must tell reasons apart',
  })
  code?: string;
}
