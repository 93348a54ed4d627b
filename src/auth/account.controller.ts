import { Controller, Delete, HttpCode, HttpStatus, Req, Res } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiError, ApiGuarded, ApiJsonBody } from '../http/api-docs';
import { clientOf, HttpRequestLike } from '../http/client';
import { LibraryRoutes } from '../http/library-routes';
import { ValidatedBody } from '../http/validated-body';
import { AuthCookiesService } from './auth-cookies.service';
import { RateLimited } from './auth-rate-limit.guard';
import { AuthService } from './auth.service';
import { AuthenticatedUser, CurrentUser } from './current-session.decorator';
import { DeleteAccountDto } from './dto/credentials.dto';
import { FingerprintAuthGuard } from './fingerprint-auth.guard';

/** Deleting the account (off with `routes: { account: false }`). */
@ApiTags('account')
@LibraryRoutes(FingerprintAuthGuard)
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
    @ValidatedBody(DeleteAccountDto) body: DeleteAccountDto,
    @Req() request: HttpRequestLike,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<void> {
    await this.auth.deleteAccount(user.id, body.password, clientOf(request));
    this.cookies.clear(response);
  }
}
