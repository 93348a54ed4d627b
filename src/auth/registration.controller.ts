import { Controller, HttpStatus, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { UserResponse } from '../http/contract';
import { ApiError, ApiJsonBody } from '../http/api-docs';
import { LibraryRoutes } from '../http/library-routes';
import { ValidatedBody } from '../http/validated-body';
import { RateLimited } from './auth-rate-limit.guard';
import { USERS_UNAVAILABLE } from './auth.controller';
import { AuthService } from './auth.service';
import { Public } from './public.decorator';
import { UserResponseDto } from './dto/auth-responses.dto';
import { RegisterDto } from './dto/credentials.dto';

/** Creating an account (off with `routes: { register: false }`, when the host creates users). */
@ApiTags('auth')
@LibraryRoutes()
@Controller('auth')
export class RegistrationController {
  constructor(private readonly auth: AuthService) {}

  // Public also under a global guard (`globalGuard: true`).
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
  register(@ValidatedBody(RegisterDto) body: RegisterDto): Promise<UserResponse> {
    return this.auth.register(body.email, body.password, body.displayName);
  }
}
