import {
  Controller,
  DynamicModule,
  Get,
  Injectable,
  Module,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-jwt';
import { AppModule, AppOptions } from '../../src/app.module';
import { AuthModule } from '../../src/auth/auth.module';
import { AuthenticatedUser, CurrentUser } from '../../src/auth/current-session.decorator';
import { AuthRejection } from '../../src/auth/auth-rejection';
import { FingerprintService, safeEqual } from '../../src/auth/fingerprint.service';
import { CompleteToken, jwtStrategyOptions, readClaims } from '../../src/auth/jwt.strategy';
import { Public } from '../../src/auth/public.decorator';
import { SigningKeys } from '../../src/auth/signing-keys';
import { clientOf } from '../../src/common/client';
import { Env } from '../../src/config';
import { SessionRepository } from '../../src/sessions/session.repository';
import { SessionsModule } from '../../src/sessions/sessions.module';

/** Same shape and length as a real `{ id: <uuid>, sessionId: <22 chars> }` body. */
export const UNGUARDED_BODY = {
  id: '00000000-0000-4000-8000-000000000000',
  sessionId: 'AAAAAAAAAAAAAAAAAAAAAA',
};

interface StepPrincipal {
  readonly userId: string;
  readonly sessionId: string;
}

/** The guard broken into steps, each one the previous plus one check, all through passport-jwt
 *  with the service's own options (pinned HS256, KeyObject secret, `complete: true`). */
export const STEPS = {
  jwt: 'bench-step-jwt',
  fingerprint: 'bench-step-fingerprint',
  session: 'bench-step-session',
  touch: 'bench-step-touch',
} as const;

type Claims = ReturnType<typeof readClaims>;

/** The claim checks of the real strategy: the system clock and ACCESS_TOKEN_TTL. */
class ClaimReader {
  private readonly maxLifetime: number;

  constructor(config: ConfigService<Env, true>) {
    this.maxLifetime = config.get('ACCESS_TOKEN_TTL', { infer: true });
  }

  read(token: CompleteToken): Claims {
    return readClaims(token, {
      now: Math.floor(Date.now() / 1000),
      maxLifetime: this.maxLifetime,
    });
  }
}

/** Step 2's check (and every later step's): the cookie's SHA-256 against `fgp`, in constant time. */
function checkFingerprint(
  fingerprints: FingerprintService,
  request: FastifyRequest,
  claims: Claims,
): void {
  if (!fingerprints.matches(request.cookies?.[fingerprints.cookieName], claims.fgp)) {
    throw new AuthRejection('fingerprint_mismatch');
  }
}

/** Step 3's check (and step 4's): the session exists, is the user's and holds the same hash. */
async function findSession(sessions: SessionRepository, claims: Claims) {
  const session = await sessions.findById(claims.sid);
  if (
    !session ||
    session.userId !== claims.sub ||
    !safeEqual(session.fingerprintHash, claims.fgp)
  ) {
    throw new AuthRejection('session_mismatch');
  }
  return session;
}

/** Step 1: signature, `exp`, `iss` and the claims' shape; nothing else. */
@Injectable()
class JwtOnlyStrategy extends PassportStrategy(Strategy, STEPS.jwt) {
  private readonly claims: ClaimReader;

  constructor(config: ConfigService<Env, true>, keys: SigningKeys) {
    super(jwtStrategyOptions(config, keys));
    this.claims = new ClaimReader(config);
  }

  async validate(_request: FastifyRequest, token: CompleteToken): Promise<StepPrincipal> {
    const claims = this.claims.read(token);
    return { userId: claims.sub, sessionId: claims.sid };
  }
}

/** Step 2: + the fingerprint cookie's SHA-256 against `fgp`, in constant time. */
@Injectable()
class FingerprintStepStrategy extends PassportStrategy(Strategy, STEPS.fingerprint) {
  private readonly claims: ClaimReader;

  constructor(
    config: ConfigService<Env, true>,
    keys: SigningKeys,
    private readonly fingerprints: FingerprintService,
  ) {
    super(jwtStrategyOptions(config, keys));
    this.claims = new ClaimReader(config);
  }

  async validate(request: FastifyRequest, token: CompleteToken): Promise<StepPrincipal> {
    const claims = this.claims.read(token);
    checkFingerprint(this.fingerprints, request, claims);
    return { userId: claims.sub, sessionId: claims.sid };
  }
}

/** Step 3: + the session lookup and its checks (no activity write). */
@Injectable()
class SessionStepStrategy extends PassportStrategy(Strategy, STEPS.session) {
  private readonly claims: ClaimReader;

  constructor(
    config: ConfigService<Env, true>,
    keys: SigningKeys,
    private readonly fingerprints: FingerprintService,
    private readonly sessions: SessionRepository,
  ) {
    super(jwtStrategyOptions(config, keys));
    this.claims = new ClaimReader(config);
  }

  async validate(request: FastifyRequest, token: CompleteToken): Promise<StepPrincipal> {
    const claims = this.claims.read(token);
    checkFingerprint(this.fingerprints, request, claims);
    const session = await findSession(this.sessions, claims);
    return { userId: session.userId, sessionId: session.id };
  }
}

/** Step 4: + a last-activity write on every request (what SESSION_ACTIVITY_INTERVAL=0 does). */
@Injectable()
class TouchStepStrategy extends PassportStrategy(Strategy, STEPS.touch) {
  private readonly claims: ClaimReader;

  constructor(
    config: ConfigService<Env, true>,
    keys: SigningKeys,
    private readonly fingerprints: FingerprintService,
    private readonly sessions: SessionRepository,
  ) {
    super(jwtStrategyOptions(config, keys));
    this.claims = new ClaimReader(config);
  }

  async validate(request: FastifyRequest, token: CompleteToken): Promise<StepPrincipal> {
    const claims = this.claims.read(token);
    checkFingerprint(this.fingerprints, request, claims);
    const session = await findSession(this.sessions, claims);
    const client = clientOf(request);
    await this.sessions.touch(session.id, client.ipAddress, client.userAgent);
    return { userId: session.userId, sessionId: session.id };
  }
}

/** Passport's guard for one step, failing with a 401 as the real guard does (not a 500). */
function stepGuard(strategy: string) {
  class StepGuard extends AuthGuard(strategy) {
    override handleRequest<T>(err: unknown, user: T): T {
      if (err || !user) throw new UnauthorizedException();
      return user;
    }
  }
  return StepGuard;
}

const stepBody = (request: FastifyRequest) => {
  const principal = (request as FastifyRequest & { user: StepPrincipal }).user;
  return { id: principal.userId, sessionId: principal.sessionId };
};

/** Bench-only routes. Never part of the service: this module exists only under bench/. */
@Controller('bench')
class BenchController {
  /** The ceiling: the same app and body, no guard. */
  @Public()
  @Get('public')
  unguarded() {
    return UNGUARDED_BODY;
  }

  /** The real global guard; the body comes from the principal (no user-database query). */
  @Get('me')
  me(@CurrentUser() user: AuthenticatedUser) {
    return { id: user.id, sessionId: user.sessionId };
  }

  @Public()
  @UseGuards(stepGuard(STEPS.jwt))
  @Get('step/jwt')
  jwtOnly(@Req() request: FastifyRequest) {
    return stepBody(request);
  }

  @Public()
  @UseGuards(stepGuard(STEPS.fingerprint))
  @Get('step/fingerprint')
  fingerprint(@Req() request: FastifyRequest) {
    return stepBody(request);
  }

  @Public()
  @UseGuards(stepGuard(STEPS.session))
  @Get('step/session')
  session(@Req() request: FastifyRequest) {
    return stepBody(request);
  }

  @Public()
  @UseGuards(stepGuard(STEPS.touch))
  @Get('step/touch')
  touch(@Req() request: FastifyRequest) {
    return stepBody(request);
  }
}

/** The whole service (`AppModule.forRoot`) plus the bench routes above. */
@Module({})
export class BenchModule {
  static forRoot(env: Env, options: AppOptions): DynamicModule {
    return {
      module: BenchModule,
      // AuthModule and SessionsModule again only to reach their exports; Nest reuses the instances.
      imports: [AppModule.forRoot(env, options), AuthModule, SessionsModule],
      controllers: [BenchController],
      providers: [JwtOnlyStrategy, FingerprintStepStrategy, SessionStepStrategy, TouchStepStrategy],
    };
  }
}
