import {
  Controller,
  DynamicModule,
  ExecutionContext,
  Get,
  Injectable,
  Module,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import passport from 'passport';
import { Strategy } from 'passport-jwt';
import { AppModule, AppOptions } from '../../src/app.module';
import { AuthenticatedUser, CurrentUser } from '../../src/auth/current-session.decorator';
import { CompleteToken, JwtStrategy, jwtStrategyOptions } from '../../src/auth/jwt.strategy';
import { Public } from '../../src/auth/public.decorator';
import { SigningKeys } from '../../src/auth/signing-keys';
import { Clock } from '../../src/common/clock';
import { ServiceConfig } from '../../src/config';
import { clientOf, type HttpRequestLike } from '../../src/http/client';
import { SecurityEvents } from '../../src/observability/security-events';
import { FingerprintAuthConfig } from '../../src/options/fingerprint-auth-config';
import { SessionRepository } from '../../src/sessions/session.repository';
import { SessionsService } from '../../src/sessions/sessions.service';

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

/**
 * One step of the guard: passport-jwt with the service's own options (pinned HS256, KeyObject
 * secret, `complete: true`, the key picked by `kid`), then the first steps of the real strategy's
 * `validate` (see `JwtStrategy`): its very methods, on the app's own instance.
 */
function stepStrategy(
  name: string,
  steps: (
    real: JwtStrategy,
    request: HttpRequestLike,
    token: CompleteToken,
  ) => Promise<StepPrincipal>,
) {
  @Injectable()
  class StepStrategy extends PassportStrategy(Strategy, name) {
    constructor(
      config: FingerprintAuthConfig,
      keys: SigningKeys,
      private readonly real: JwtStrategy,
    ) {
      super(jwtStrategyOptions(config, keys));
    }

    /** Registered with a passport of its own; the step guard hands this instance over. */
    getPassportInstance(): passport.Authenticator {
      return new passport.Passport();
    }

    validate(request: HttpRequestLike, token: CompleteToken): Promise<StepPrincipal> {
      return steps(this.real, request, token);
    }
  }
  return StepStrategy;
}

/** Step 1: signature, `exp`, `iss` and the claims' shape and times; nothing else. */
const JwtOnlyStrategy = stepStrategy(STEPS.jwt, async (real, request, token) => {
  const claims = real.claimsOf(token);
  return { userId: claims.sub, sessionId: claims.sid };
});

/** Step 2: + the fingerprint cookie's SHA-256 against `fgp`, in constant time. */
const FingerprintStepStrategy = stepStrategy(STEPS.fingerprint, async (real, request, token) => {
  const claims = real.claimsOf(token);
  real.checkFingerprint(request, claims);
  return { userId: claims.sub, sessionId: claims.sid };
});

/** Step 3: + the session lookup and its checks, activity written as configured (throttled). */
const SessionStepStrategy = stepStrategy(STEPS.session, async (real, request, token) => {
  const claims = real.claimsOf(token);
  real.checkFingerprint(request, claims);
  const session = await real.sessionOf(request, claims);
  return { userId: session.userId, sessionId: session.id };
});

/**
 * Step 4: step 3 with a last-activity write on every request (what SESSION_ACTIVITY_INTERVAL=0
 * does): the real `SessionsService` on the app's own store, with the interval at 0.
 */
@Injectable()
class TouchStepStrategy extends PassportStrategy(Strategy, STEPS.touch) {
  private readonly everyRequest: SessionsService;

  constructor(
    config: FingerprintAuthConfig,
    keys: SigningKeys,
    private readonly real: JwtStrategy,
    moduleRef: ModuleRef,
  ) {
    super(jwtStrategyOptions(config, keys));
    const store = moduleRef.get(SessionRepository, { strict: false });
    this.everyRequest = new SessionsService(
      store,
      moduleRef.get(SecurityEvents, { strict: false }),
      moduleRef.get(Clock, { strict: false }),
      Object.assign(Object.create(config) as FingerprintAuthConfig, { sessionActivityInterval: 0 }),
    );
  }

  getPassportInstance(): passport.Authenticator {
    return new passport.Passport();
  }

  async validate(request: HttpRequestLike, token: CompleteToken): Promise<StepPrincipal> {
    const claims = this.real.claimsOf(token);
    this.real.checkFingerprint(request, claims);
    const session = await this.everyRequest.authenticate(claims, clientOf(request));
    if (typeof session === 'string') throw new UnauthorizedException();
    return { userId: session.userId, sessionId: session.id };
  }
}

/**
 * @nestjs/passport's guard for one step, failing with a 401 as the real guard does (not a 500),
 * running the step's strategy instance as the real guard runs its own (a per-request copy handed
 * to passport, never a lookup in passport's global registry).
 */
function stepGuard(strategy: ReturnType<typeof stepStrategy> | typeof TouchStepStrategy) {
  @Injectable()
  class StepGuard extends AuthGuard('bench-step') {
    private instance?: object;

    constructor(private readonly moduleRef: ModuleRef) {
      super();
    }

    override async canActivate(context: ExecutionContext): Promise<boolean> {
      const http = context.switchToHttp();
      const request = http.getRequest<HttpRequestLike & { user?: StepPrincipal }>();
      this.instance ??= this.moduleRef.get(strategy, { strict: false });
      const instance = this.instance;
      request.user = await new Promise<StepPrincipal>((resolve, reject) =>
        passport.authenticate(
          Object.create(instance) as passport.Strategy,
          { session: false },
          (err: unknown, user: StepPrincipal | false) =>
            err || !user ? reject(new UnauthorizedException()) : resolve(user),
        )(request, http.getResponse(), reject),
      );
      return true;
    }
  }
  return StepGuard;
}

const stepBody = (request: HttpRequestLike) => {
  const principal = (request as HttpRequestLike & { user: StepPrincipal }).user;
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

  /** The real global guard; the body comes from the principal (the user from its cache). */
  @Get('me')
  me(@CurrentUser() user: AuthenticatedUser) {
    return { id: user.id, sessionId: user.sessionId };
  }

  @Public()
  @UseGuards(stepGuard(JwtOnlyStrategy))
  @Get('step/jwt')
  jwtOnly(@Req() request: HttpRequestLike) {
    return stepBody(request);
  }

  @Public()
  @UseGuards(stepGuard(FingerprintStepStrategy))
  @Get('step/fingerprint')
  fingerprint(@Req() request: HttpRequestLike) {
    return stepBody(request);
  }

  @Public()
  @UseGuards(stepGuard(SessionStepStrategy))
  @Get('step/session')
  session(@Req() request: HttpRequestLike) {
    return stepBody(request);
  }

  @Public()
  @UseGuards(stepGuard(TouchStepStrategy))
  @Get('step/touch')
  touch(@Req() request: HttpRequestLike) {
    return stepBody(request);
  }
}

/** The whole service (`AppModule.forRoot`) plus the bench routes above. */
@Module({})
export class BenchModule {
  static forRoot(config: ServiceConfig, options: AppOptions): DynamicModule {
    return {
      module: BenchModule,
      // The library module is global: its exports (the strategy, the keys, the config) reach here.
      imports: [AppModule.forRoot(config, options)],
      controllers: [BenchController],
      providers: [JwtOnlyStrategy, FingerprintStepStrategy, SessionStepStrategy, TouchStepStrategy],
    };
  }
}
