import { Controller, Delete, Get, HttpCode, HttpStatus, Req, Res } from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { AccountEventListResponse } from '../http/contract';
import { auditEventView } from '../audit/audit-event.view';
import { AuditTrail } from '../audit/audit-trail';
import {
  AccountEventsQueryDto,
  AuditEventListDto,
  DEFAULT_EVENTS_PAGE,
  MAX_EVENTS_PAGE,
} from '../audit/dto/audit-events.dto';
import { ApiError, ApiGuarded, ApiJsonBody } from '../http/api-docs';
import { clientOf, HttpRequestLike } from '../http/client';
import { LibraryRoutes } from '../http/library-routes';
import { ValidatedBody, ValidatedQuery } from '../http/validated-body';
import { AuthCookiesService } from './auth-cookies.service';
import { RateLimited } from './auth-rate-limit.guard';
import { AuthService } from './auth.service';
import { AuthenticatedUser, CurrentUser } from './current-session.decorator';
import { DeleteAccountDto } from './dto/credentials.dto';
import { FingerprintAuthGuard } from './fingerprint-auth.guard';

/** The account's security events, and deleting the account (off with `routes: { account: false }`). */
@ApiTags('account')
@LibraryRoutes(FingerprintAuthGuard)
@Controller('account')
export class AccountController {
  constructor(
    private readonly auth: AuthService,
    private readonly cookies: AuthCookiesService,
    private readonly audit: AuditTrail,
  ) {}

  @Get('events')
  @ApiOperation({
    summary: "Your account's security events, newest first",
    description:
      'Logins (and failed logins of your account), refreshes, refresh-credential reuse, logouts, ' +
      'sessions ended, logout-all, password changes, evictions by the session limit and alerts, ' +
      'each with its time, session, address, device and location. Kept for `AUDIT_RETENTION` ' +
      '(90 days); empty when the audit trail is off. Events of the last second may not be listed yet.',
  })
  @ApiGuarded()
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: MAX_EVENTS_PAGE, default: DEFAULT_EVENTS_PAGE },
  })
  @ApiQuery({
    name: 'before',
    required: false,
    description: '`nextCursor` of the previous page',
    schema: { type: 'string' },
  })
  @ApiOkResponse({ type: AuditEventListDto, description: 'One page of your events' })
  @ApiError(
    HttpStatus.BAD_REQUEST,
    'limit is not a whole number from 1 to 100, or before is no cursor',
  )
  async events(
    @CurrentUser() user: AuthenticatedUser,
    @ValidatedQuery(AccountEventsQueryDto) query: AccountEventsQueryDto,
  ): Promise<AccountEventListResponse> {
    const limit = query.limit ?? DEFAULT_EVENTS_PAGE;
    // One more than asked for tells whether there is a next page.
    const events = await this.audit.list(user.id, limit + 1, query.before);
    const page = events.slice(0, limit);
    return {
      events: page.map(auditEventView),
      nextCursor: events.length > limit ? page[page.length - 1].id : null,
    };
  }

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
