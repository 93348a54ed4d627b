import { Controller, HttpCode, HttpStatus, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { RevokedResponse } from '../http/contract';
import { ApiError, ApiGuarded, ApiJsonBody } from '../http/api-docs';
import { clientOf, HttpRequestLike } from '../http/client';
import { LibraryRoutes } from '../http/library-routes';
import { ValidatedBody } from '../http/validated-body';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { RateLimited } from './auth-rate-limit.guard';
import { USERS_UNAVAILABLE } from './auth.controller';
import { AuthService } from './auth.service';
import { AuthenticatedUser, CurrentUser } from './current-session.decorator';
import { RevokedResponseDto } from './dto/auth-responses.dto';
import { ChangePasswordDto } from './dto/credentials.dto';
import { FingerprintAuthGuard } from './fingerprint-auth.guard';

/** Changing the password (off with `routes: { password: false }`). */
@ApiTags('auth')
@LibraryRoutes(FingerprintAuthGuard)
@Controller('auth')
export class PasswordController {
  constructor(
    private readonly auth: AuthService,
    private readonly rateLimiter: RateLimiter,
  ) {}

  @RateLimited('password')
  @Post('password')
  @HttpCode(200)
  @ApiOperation({ summary: 'Change the password; every other session ends' })
  @ApiGuarded()
  @ApiOkResponse({
    type: RevokedResponseDto,
    description: 'Password changed; every other session ended',
  })
  @ApiJsonBody()
  @ApiError(HttpStatus.FORBIDDEN, 'Current password incorrect; still signed in, nothing changed', [
    'CURRENT_PASSWORD_INCORRECT',
  ])
  @ApiError(HttpStatus.SERVICE_UNAVAILABLE, USERS_UNAVAILABLE, ['STORE_UNAVAILABLE'])
  async changePassword(
    @CurrentUser() user: AuthenticatedUser,
    @ValidatedBody(ChangePasswordDto) body: ChangePasswordDto,
    @Req() request: HttpRequestLike,
  ): Promise<RevokedResponse> {
    const revoked = await this.auth.changePassword(
      user.id,
      user.sessionId,
      body.currentPassword,
      body.newPassword,
      clientOf(request),
    );
    await this.rateLimiter.resetAccount('password', user.id);
    return { revoked };
  }
}
