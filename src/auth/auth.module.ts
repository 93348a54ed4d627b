import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { Clock } from '../common/clock';
import { Env, JwtSecrets } from '../config';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { AccessTokenService, JWT_ALGORITHM } from './access-token.service';
import { AccountController } from './account.controller';
import { AuthCookiesModule } from './auth-cookies.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { SigningKeys } from './signing-keys';

@Module({
  imports: [
    UsersModule,
    SessionsModule,
    AuthCookiesModule,
    PassportModule,
    RateLimitModule,
    JwtModule.registerAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<Env, true>) => {
        const audience = config.get('JWT_AUDIENCE', { infer: true });
        // The key is given per token (AccessTokenService): the current one of SigningKeys.
        return {
          signOptions: {
            algorithm: JWT_ALGORITHM,
            expiresIn: config.get('ACCESS_TOKEN_TTL', { infer: true }),
            issuer: config.get('JWT_ISSUER', { infer: true }),
            ...(audience ? { audience } : {}),
          },
        };
      },
    }),
  ],
  controllers: [AuthController, AccountController],
  providers: [
    AuthService,
    AccessTokenService,
    {
      provide: SigningKeys,
      inject: [JwtSecrets, ConfigService, Clock],
      useFactory: (secrets: JwtSecrets, config: ConfigService<Env, true>, clock: Clock) =>
        new SigningKeys(secrets, config.get('ACCESS_TOKEN_TTL', { infer: true }), clock),
    },
    JwtStrategy,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
  ],
  exports: [AuthCookiesModule, SigningKeys],
})
export class AuthModule {}
