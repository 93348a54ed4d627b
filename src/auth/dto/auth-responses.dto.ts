import { ApiProperty } from '@nestjs/swagger';

export class UserResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice@example.com' })
  email!: string;

  @ApiProperty({ type: String, nullable: true })
  displayName!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

/** Login and refresh. The fingerprint and refresh credential travel in HttpOnly cookies. */
export class TokenResponseDto {
  @ApiProperty({ description: 'HS256 JWT; only valid together with the fingerprint cookie' })
  accessToken!: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiProperty({ description: 'Seconds until the access token expires', example: 900 })
  expiresIn!: number;

  @ApiProperty({ example: 'cASJMVs-hGZjwqjaCTdONA' })
  sessionId!: string;

  @ApiProperty({
    format: 'date-time',
    description:
      'When the session ends if nothing more happens (idle expiry, never past the absolute one)',
  })
  sessionExpiresAt!: string;
}

export class MeResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  email!: string;

  @ApiProperty({ type: String, nullable: true })
  displayName!: string | null;

  @ApiProperty()
  sessionId!: string;
}

export class RevokedResponseDto {
  @ApiProperty({ description: 'How many sessions were ended', example: 2 })
  revoked!: number;
}
