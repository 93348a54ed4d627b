import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientOf } from '../common/client';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { RateLimited } from './auth-rate-limit.guard';
import { AuthService, IssuedTokens, sessionExpiresAtIso } from './auth.service';
import { AuthenticatedUser, CurrentUser } from './current-session.decorator';
import { ChangePasswordDto, LoginDto, RegisterDto } from './dto/credentials.dto';
import { FingerprintService } from './fingerprint.service';
import { Public } from './public.decorator';
import { RefreshCredentialService } from './refresh-credential.service';

@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly fingerprints: FingerprintService,
    private readonly refreshCredentials: RefreshCredentialService,
    private readonly rateLimiter: RateLimiter,
  ) {}

  @Public()
  @RateLimited('register')
  @Post('register')
  register(@Body() body: RegisterDto) {
    return this.auth.register(body.email, body.password, body.displayName);
  }

  @Public()
  @RateLimited('login')
  @Post('login')
  @HttpCode(200)
  async login(
    @Body() body: LoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const issued = await this.auth.login(body.email, body.password, clientOf(request));
    await this.rateLimiter.resetAccount('login', body.email);
    return this.respondWithTokens(reply, issued);
  }

  @Public()
  @RateLimited('refresh')
  @Post('refresh')
  @HttpCode(200)
  async refresh(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const cookie = request.cookies?.[this.refreshCredentials.cookieName];
    const issued = await this.auth.refresh(cookie, clientOf(request));
    return this.respondWithTokens(reply, issued);
  }

  @Post('logout')
  @HttpCode(204)
  async logout(
    @CurrentUser() user: AuthenticatedUser,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    await this.auth.logout(user.id, user.sessionId);
    this.clearCookies(reply);
  }

  @Get('me')
  me(@CurrentUser() user: AuthenticatedUser) {
    return this.auth.me(user.id, user.sessionId);
  }

  @RateLimited('password')
  @Post('password')
  @HttpCode(200)
  async changePassword(@CurrentUser() user: AuthenticatedUser, @Body() body: ChangePasswordDto) {
    const revoked = await this.auth.changePassword(
      user.id,
      user.sessionId,
      body.currentPassword,
      body.newPassword,
    );
    await this.rateLimiter.resetAccount('password', user.id);
    return { revoked };
  }

  private respondWithTokens(reply: FastifyReply, issued: IssuedTokens) {
    if (issued.fingerprint !== null) {
      void reply.setCookie(
        this.fingerprints.cookieName,
        issued.fingerprint,
        this.fingerprints.cookieOptions(),
      );
    }
    if (issued.refresh !== null) {
      void reply.setCookie(
        this.refreshCredentials.cookieName,
        issued.refresh.value,
        this.refreshCredentials.cookieOptions(),
      );
    }
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return {
      accessToken: issued.accessToken,
      tokenType: 'Bearer' as const,
      expiresIn: issued.expiresIn,
      sessionId: issued.session.id,
      sessionExpiresAt: sessionExpiresAtIso(issued.session),
    };
  }

  private clearCookies(reply: FastifyReply): void {
    void reply.clearCookie(this.fingerprints.cookieName, this.fingerprints.clearCookieOptions());
    void reply.clearCookie(
      this.refreshCredentials.cookieName,
      this.refreshCredentials.clearCookieOptions(),
    );
  }
}
