import { ApiProperty } from '@nestjs/swagger';
import type { MeResponse, RevokedResponse, TokenResponse, UserResponse } from '../../http/contract';

export class UserResponseDto implements UserResponse {
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
export class TokenResponseDto implements TokenResponse {
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

export class MeResponseDto implements MeResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  email!: string;

  @ApiProperty({ type: String, nullable: true })
  displayName!: string | null;

  @ApiProperty()
  sessionId!: string;
}

export class RevokedResponseDto implements RevokedResponse {
  @ApiProperty({ description: 'How many sessions were ended', example: 2 })
  revoked!: number;
}
