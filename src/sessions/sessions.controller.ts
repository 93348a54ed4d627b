import {
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { AlertListResponse, RevokedResponse, SessionListResponse } from '../http/contract';
import { AuthCookiesService } from '../auth/auth-cookies.service';
import { CurrentUser, AuthenticatedUser } from '../auth/current-session.decorator';
import { FingerprintAuthGuard } from '../auth/fingerprint-auth.guard';
import { clientOf, HttpRequestLike } from '../http/client';
import { LibraryRoutes } from '../http/library-routes';
import { ApiError, ApiGuarded, ApiNoBody } from '../http/api-docs';
import { RevokedResponseDto } from '../auth/dto/auth-responses.dto';
import { AlertListDto, SessionListDto } from './dto/session-responses.dto';
import { SessionsService } from './sessions.service';

/** Your sessions: list them, end one or all others, see what looks unusual. */
@ApiTags('sessions')
@ApiGuarded()
@LibraryRoutes(FingerprintAuthGuard)
@Controller('sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly cookies: AuthCookiesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Your live sessions, most recent activity first' })
  @ApiOkResponse({ type: SessionListDto, description: 'Your live sessions' })
  async list(@CurrentUser() user: AuthenticatedUser): Promise<SessionListResponse> {
    return { sessions: await this.sessions.list(user.id, user.sessionId) };
  }

  @Get('alerts')
  @ApiOperation({ summary: 'What looks unusual about your sessions (detection only)' })
  @ApiOkResponse({
    type: AlertListDto,
    description: 'Alerts; an empty list when nothing stands out',
  })
  async alerts(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: HttpRequestLike,
  ): Promise<AlertListResponse> {
    return { alerts: await this.sessions.alerts(user.id, clientOf(request)) };
  }

  @Post('logout-all')
  @HttpCode(200)
  @ApiOperation({ summary: 'End every session but the current one' })
  @ApiNoBody()
  @ApiOkResponse({ type: RevokedResponseDto, description: 'Every other session ended' })
  async logoutAll(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: HttpRequestLike,
  ): Promise<RevokedResponse> {
    return {
      revoked: await this.sessions.revokeOthers(
        user.id,
        user.sessionId,
        'logout_all',
        clientOf(request),
      ),
    };
  }

  @Delete(':sessionId')
  @HttpCode(204)
  @ApiOperation({ summary: 'End one of your sessions (the current one too)' })
  @ApiParam({ name: 'sessionId', description: 'A session id from GET /sessions' })
  @ApiNoBody()
  @ApiNoContentResponse({
    description: 'Session ended; ending the current one clears its cookies, as logout does',
  })
  @ApiError(
    HttpStatus.NOT_FOUND,
    'No such session of yours (unknown and other users’ look the same)',
  )
  async revoke(
    @CurrentUser() user: AuthenticatedUser,
    @Param('sessionId') sessionId: string,
    @Req() request: HttpRequestLike,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<void> {
    await this.sessions.revoke(user.id, sessionId, 'user', clientOf(request), user.sessionId);
    if (sessionId === user.sessionId) this.cookies.clear(response);
  }
}
