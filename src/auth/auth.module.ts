import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { Env } from '../config';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { AccessTokenService, JWT_ALGORITHM, signingKey } from './access-token.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { FingerprintService } from './fingerprint.service';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { RefreshCredentialService } from './refresh-credential.service';

@Module({
  imports: [
    UsersModule,
    SessionsModule,
    PassportModule,
    RateLimitModule,
    JwtModule.registerAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<Env, true>) => {
        const audience = config.get('JWT_AUDIENCE', { infer: true });
        return {
          privateKey: signingKey(config),
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
  controllers: [AuthController],
  providers: [
    AuthService,
    AccessTokenService,
    FingerprintService,
    RefreshCredentialService,
    JwtStrategy,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
  ],
  exports: [FingerprintService],
})
export class AuthModule {}
