import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Request, UseGuards } from '@nestjs/common';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { createApp } from '../../src/bootstrap';
import { validateEnv } from '../../src/config';
import { childConfig, reportFailure, reportReady, serveCommands } from '../lib/child-side';

/**
 * Baseline A: a minimal NestJS app guarded the way the NestJS authentication docs show
 * (passport-jwt, the secret as a plain string, bearer token, `validate` returns the payload's
 * user, no session lookup). Built by the service's own `createApp`, so the adapter, cookies,
 * security headers and pipes are the same: only the guard differs.
 */
interface Config {
  port: number;
  secret: string;
}

const { port, secret } = childConfig<Config>();

interface DocsUser {
  userId: string;
  sessionId: string;
}

@Injectable()
class DocsJwtStrategy extends PassportStrategy(Strategy) {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      ignoreExpiration: false,
      secretOrKey: secret,
    });
  }

  async validate(payload: { sub: string; sid: string }): Promise<DocsUser> {
    return { userId: payload.sub, sessionId: payload.sid };
  }
}

@Injectable()
class DocsJwtAuthGuard extends AuthGuard('jwt') {}

@Controller('bench')
class ProfileController {
  @UseGuards(DocsJwtAuthGuard)
  @Get('me')
  me(@Request() request: { user: DocsUser }) {
    return { id: request.user.userId, sessionId: request.user.sessionId };
  }
}

@Module({
  imports: [PassportModule],
  controllers: [ProfileController],
  providers: [DocsJwtStrategy],
})
class BaselineModule {}

async function main(): Promise<void> {
  const env = validateEnv({ NODE_ENV: 'production', JWT_SECRET: secret, LOG_LEVEL: 'warn' });
  const app = await createApp(env, { logger: false, module: BaselineModule });
  await app.listen({ port, host: '127.0.0.1' });
  serveCommands({}, () => app.close());
  reportReady(port);
}

main().catch(reportFailure);
