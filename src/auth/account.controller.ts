import { Body, Controller, Delete, HttpCode, HttpStatus, Req, Res } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ApiGuarded, ApiJsonBody } from '../common/api-docs';
import { clientOf } from '../common/client';
import { AuthCookiesService } from './auth-cookies.service';
import { RateLimited } from './auth-rate-limit.guard';
import { AuthService } from './auth.service';
import { AuthenticatedUser, CurrentUser } from './current-session.decorator';
import { DeleteAccountDto } from './dto/credentials.dto';

@ApiTags('account')
@Controller('account')
export class AccountController {
  constructor(
    private readonly auth: AuthService,
    private readonly cookies: AuthCookiesService,
  ) {}

  // The password-change limits and counters: both routes guess at the current password.
  @RateLimited('password')
  @Delete()
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete the account: the user, every session and its rate-limit counters',
    description:
      'Needs the current password. Every token and refresh credential of the account stops ' +
      'working at once, on every instance; the email can be registered again.',
  })
  @ApiGuarded()
  @ApiJsonBody()
  @ApiNoContentResponse({ description: 'Account deleted, cookies cleared' })
  @ApiError(HttpStatus.FORBIDDEN, 'Current password incorrect; still signed in, nothing changed', [
    'CURRENT_PASSWORD_INCORRECT',
  ])
  @ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'The user database is unavailable', [
    'STORE_UNAVAILABLE',
  ])
  async delete(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: DeleteAccountDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.auth.deleteAccount(user.id, body.password, clientOf(request));
    this.cookies.clear(reply);
  }
}
