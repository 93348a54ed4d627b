import { Controller, Get, HttpCode, HttpStatus, Post, Req, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { MeResponse, TokenResponse } from '../http/contract';
import { ApiError, ApiGuarded, ApiJsonBody, ApiNoBody, REFRESH_SCHEME } from '../http/api-docs';
import { clientOf, HttpRequestLike } from '../http/client';
import { requestCookie } from '../http/cookies';
import { LibraryRoutes } from '../http/library-routes';
import { ValidatedBody } from '../http/validated-body';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { RateLimited } from './auth-rate-limit.guard';
import { AuthService, IssuedTokens, sessionExpiresAtIso } from './auth.service';
import { AuthenticatedUser, CurrentUser } from './current-session.decorator';
import { MeResponseDto, TokenResponseDto } from './dto/auth-responses.dto';
import { AuthCookiesService } from './auth-cookies.service';
import { LoginDto } from './dto/credentials.dto';
import { FingerprintAuthGuard } from './fingerprint-auth.guard';
import { Public } from './public.decorator';
import { RefreshCredentialService } from './refresh-credential.service';

const TOKEN_COOKIES =
  'Sets the fingerprint cookie (HttpOnly, SameSite=Strict) and the refresh cookie (HttpOnly, Path=/auth/refresh)';
export const USERS_UNAVAILABLE = 'The user database is unavailable';

/** Log in, refresh, log out, who am I. */
@ApiTags('auth')
@LibraryRoutes(FingerprintAuthGuard)
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly cookies: AuthCookiesService,
    private readonly refreshCredentials: RefreshCredentialService,
    private readonly rateLimiter: RateLimiter,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

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
    @ValidatedBody(LoginDto) body: LoginDto,
    @Req() request: HttpRequestLike,
    @Res({ passthrough: true }) response: unknown,
  ) {
    const issued = await this.auth.login(body.email, body.password, clientOf(request));
    await this.rateLimiter.resetAccount('login', body.email);
    return this.respondWithTokens(response, issued);
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
  async refresh(@Req() request: HttpRequestLike, @Res({ passthrough: true }) response: unknown) {
    const cookie = requestCookie(request, this.refreshCredentials.cookieName);
    const issued = await this.auth.refresh(cookie, clientOf(request));
    return this.respondWithTokens(response, issued);
  }

  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the current session and clear the cookies' })
  @ApiGuarded()
  @ApiNoBody()
  @ApiNoContentResponse({ description: 'Session ended, cookies cleared' })
  async logout(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: HttpRequestLike,
    @Res({ passthrough: true }) response: unknown,
  ) {
    await this.auth.logout(user.id, user.sessionId, clientOf(request));
    this.cookies.clear(response);
  }

  @Get('me')
  @ApiOperation({ summary: 'The signed-in user and current session' })
  @ApiGuarded()
  @ApiOkResponse({ type: MeResponseDto, description: 'The signed-in user' })
  @ApiError(HttpStatus.SERVICE_UNAVAILABLE, USERS_UNAVAILABLE, ['STORE_UNAVAILABLE'])
  me(@CurrentUser() user: AuthenticatedUser): Promise<MeResponse> {
    return this.auth.me(user.id, user.sessionId);
  }

  private respondWithTokens(response: unknown, issued: IssuedTokens): TokenResponse {
    this.cookies.set(response, issued.fingerprint, issued.refresh);
    const adapter = this.adapterHost.httpAdapter;
    adapter.setHeader(response, 'Cache-Control', 'no-store');
    adapter.setHeader(response, 'Pragma', 'no-cache');
    return {
      accessToken: issued.accessToken,
      tokenType: 'Bearer' as const,
      expiresIn: issued.expiresIn,
      sessionId: issued.session.id,
      sessionExpiresAt: sessionExpiresAtIso(issued.session),
    };
  }
}
