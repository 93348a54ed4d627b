import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Request, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { childConfig, reportFailure, reportReady, serveCommands } from '../lib/child-side';

/**
 * Baseline A: a minimal NestJS app guarded the way the NestJS authentication docs show
 * (passport-jwt, the secret as a plain string, bearer token, `validate` returns the payload's
 * user, no session lookup), on the same Fastify adapter as the service but with nothing else:
 * no security headers, cookies, logs or metrics. The service pays for those; the baseline does not.
 * Its unguarded `GET /bench/public` is the bare NestJS-on-Fastify route the service's own
 * unguarded route is compared with.
 */
interface Config {
  port: number;
  secret: string;
  body: unknown;
}

const { port, secret, body } = childConfig<Config>();

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
  @Get('public')
  public() {
    return body;
  }

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
  const app = await NestFactory.create<NestFastifyApplication>(
    BaselineModule,
    new FastifyAdapter(),
    { logger: false },
  );
  await app.listen({ port, host: '127.0.0.1' });
  serveCommands({}, () => app.close());
  reportReady(port);
}

main().catch(reportFailure);
