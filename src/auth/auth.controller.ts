import { Body, Controller, Get, HttpCode, HttpStatus, Post, Req, Res } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ApiGuarded, ApiJsonBody, ApiNoBody, REFRESH_SCHEME } from '../common/api-docs';
import { clientOf } from '../common/client';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { RateLimited } from './auth-rate-limit.guard';
import { AuthService, IssuedTokens, sessionExpiresAtIso } from './auth.service';
import { AuthenticatedUser, CurrentUser } from './current-session.decorator';
import {
  MeResponseDto,
  RevokedResponseDto,
  TokenResponseDto,
  UserResponseDto,
} from './dto/auth-responses.dto';
import { AuthCookiesService } from './auth-cookies.service';
import { ChangePasswordDto, LoginDto, RegisterDto } from './dto/credentials.dto';
import { Public } from './public.decorator';
import { RefreshCredentialService } from './refresh-credential.service';

const TOKEN_COOKIES =
  'Sets the fingerprint cookie (HttpOnly, SameSite=Strict) and the refresh cookie (HttpOnly, Path=/auth/refresh)';
const USERS_UNAVAILABLE = 'The user database is unavailable';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly cookies: AuthCookiesService,
    private readonly refreshCredentials: RefreshCredentialService,
    private readonly rateLimiter: RateLimiter,
  ) {}

  @Public()
  @RateLimited('register')
  @Post('register')
  @ApiOperation({ summary: 'Create an account' })
  @ApiCreatedResponse({ type: UserResponseDto, description: 'Account created' })
  @ApiJsonBody()
  @ApiError(HttpStatus.CONFLICT, 'Email, or one that looks like it, already registered', [
    'EMAIL_TAKEN',
  ])
  @ApiError(HttpStatus.SERVICE_UNAVAILABLE, USERS_UNAVAILABLE, ['STORE_UNAVAILABLE'])
  register(@Body() body: RegisterDto) {
    return this.auth.register(body.email, body.password, body.displayName);
  }

  @Public()
  @RateLimited('login')
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in: a new session, an access token and its cookies' })
  @ApiOkResponse({ type: TokenResponseDto, description: TOKEN_COOKIES })
  @ApiJsonBody()
  @ApiError(HttpStatus.UNAUTHORIZED, 'Invalid email or password (the same for an unknown email)')
  @ApiError(HttpStatus.CONFLICT, 'Session limit reached under the reject policy', [
    'SESSION_LIMIT_REACHED',
  ])
  @ApiError(
    HttpStatus.SERVICE_UNAVAILABLE,
    'The session store is full, or a store is unavailable',
    ['SESSION_STORE_FULL', 'STORE_UNAVAILABLE'],
  )
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
  @ApiOperation({
    summary:
      'Rotate the refresh credential and fingerprint; a new access token for the same session',
    description:
      'Replaying a rotated refresh credential after the grace period revokes the session.',
  })
  @ApiSecurity({ [REFRESH_SCHEME]: [] })
  @ApiOkResponse({ type: TokenResponseDto, description: TOKEN_COOKIES })
  @ApiNoBody()
  @ApiError(
    HttpStatus.UNAUTHORIZED,
    'Refresh credential missing, invalid, reused, its session ended or its user is gone',
  )
  @ApiError(
    HttpStatus.TOO_MANY_REQUESTS,
    'Too many refreshes from this address, or of this session with its valid credential; see Retry-After',
  )
  @ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'The session store is unavailable', [
    'STORE_UNAVAILABLE',
  ])
  async refresh(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const cookie = request.cookies?.[this.refreshCredentials.cookieName];
    const issued = await this.auth.refresh(cookie, clientOf(request));
    return this.respondWithTokens(reply, issued);
  }

  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the current session and clear the cookies' })
  @ApiGuarded()
  @ApiNoBody()
  @ApiNoContentResponse({ description: 'Session ended, cookies cleared' })
  async logout(
    @CurrentUser() user: AuthenticatedUser,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    await this.auth.logout(user.id, user.sessionId);
    this.cookies.clear(reply);
  }

  @Get('me')
  @ApiOperation({ summary: 'The signed-in user and current session' })
  @ApiGuarded()
  @ApiOkResponse({ type: MeResponseDto, description: 'The signed-in user' })
  @ApiError(HttpStatus.SERVICE_UNAVAILABLE, USERS_UNAVAILABLE, ['STORE_UNAVAILABLE'])
  me(@CurrentUser() user: AuthenticatedUser) {
    return this.auth.me(user.id, user.sessionId);
  }

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
    this.cookies.set(reply, issued.fingerprint, issued.refresh);
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return {
      accessToken: issued.accessToken,
      tokenType: 'Bearer' as const,
      expiresIn: issued.expiresIn,
      sessionId: issued.session.id,
      sessionExpiresAt: sessionExpiresAtIso(issued.session),
    };
  }
}
