import { Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CurrentUser, AuthenticatedUser } from '../auth/current-session.decorator';
import { SessionsService } from './sessions.service';

@Controller('sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  async list(@CurrentUser() user: AuthenticatedUser) {
    return { sessions: await this.sessions.list(user.id, user.sessionId) };
  }

  @Get('alerts')
  async alerts(@CurrentUser() user: AuthenticatedUser) {
    return { alerts: await this.sessions.alerts(user.id) };
  }

  @Post('logout-all')
  @HttpCode(200)
  async logoutAll(@CurrentUser() user: AuthenticatedUser) {
    return { revoked: await this.sessions.revokeOthers(user.id, user.sessionId, 'logout_all') };
  }

  @Delete(':sessionId')
  @HttpCode(204)
  async revoke(
    @CurrentUser() user: AuthenticatedUser,
    @Param('sessionId') sessionId: string,
  ): Promise<void> {
    await this.sessions.revoke(user.id, sessionId);
  }
}
