import {
  ArgumentsHost,
  Catch,
  Controller,
  ExceptionFilter,
  Get,
  HttpException,
  Inject,
  Injectable,
  INestApplication,
  Module,
  Param,
  Post,
  Type,
  UseGuards,
  ValidationPipe,
} from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import {
  type AuthenticatedUser,
  CurrentSession,
  CurrentUser,
  FingerprintAuthConfig,
  FingerprintAuthGuard,
  FingerprintAuthMetrics,
  FingerprintAuthModule,
  type FingerprintAuthModuleOptions,
  FingerprintAuthSettings,
  InvalidConfigError,
  Public,
  type Session,
  SessionsService,
  UsersService,
  withFingerprintAuth,
} from '../../src';
import { envName, settingNames } from '../../src/options/settings';
import { RELAXED_RATE_LIMITS, TEST_DATA_DIR, TEST_SECRET } from '../support/app';
import { cookieOf, HostClient, PASSWORD } from './host-client';

/*
 * The library inside host apps as a team would write them, on Express and on Fastify, in this
 * process over real HTTP (loopback, port 0): the host's own routes guarded by the library's guard,
 * its own global ValidationPipe and exception filter beside the library's routes, the library's
 * services injected into the host's, route prefix and route selection, and two instances in one
 * process sharing nothing.
 */

/** Rate limits written as options: what RELAXED_RATE_LIMITS is for the environment. */
const relaxedLimits = Object.fromEntries(
  settingNames(FingerprintAuthSettings)
    .filter((name) => envName(name) in RELAXED_RATE_LIMITS)
    .map((name) => [name, Number(RELAXED_RATE_LIMITS[envName(name)])]),
);

/** Options every host here starts from: nothing on disk, nothing looked up. */
export const baseOptions = (
  extra: FingerprintAuthModuleOptions = {},
): FingerprintAuthModuleOptions => ({
  jwtSecret: TEST_SECRET,
  dataDir: TEST_DATA_DIR,
  databaseUrl: 'sqlite::memory:',
  sessionSnapshotPath: 'off',
  geoip: false,
  cookieSecure: false,
  cleanupCron: '0 0 0 1 1 *',
  ...relaxedLimits,
  ...extra,
});

/** The host's own error shape: the library's routes must keep theirs. */
@Catch(HttpException)
class HostExceptionFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: HttpException, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost;
    httpAdapter.reply(
      host.switchToHttp().getResponse(),
      { host: true, status: exception.getStatus() },
      exception.getStatus(),
    );
  }
}

/** A host service built on the library's: an admin action ending a user's sessions. */
@Injectable()
class AdminService {
  constructor(
    private readonly sessions: SessionsService,
    private readonly users: UsersService,
  ) {}

  async signOutEverywhere(userId: string): Promise<{ ended: number; email: string | null }> {
    const user = await this.users.findById(userId);
    return { ended: await this.sessions.endAll(userId), email: user?.email ?? null };
  }
}

@Controller('notes')
class NotesController {
  constructor(private readonly admin: AdminService) {}

  @UseGuards(FingerprintAuthGuard)
  @Get()
  list(@CurrentUser() user: AuthenticatedUser, @CurrentSession() session: Session) {
    return { owner: user, sessionUser: session.userId };
  }

  @UseGuards(FingerprintAuthGuard)
  @Post('sign-out-everywhere')
  signOutEverywhere(@CurrentUser() user: AuthenticatedUser) {
    return this.admin.signOutEverywhere(user.id);
  }

  @Get('public')
  open() {
    return { open: true };
  }
}

/** Under `globalGuard: true`: guarded unless `@Public()`. */
@Controller('global')
class GloballyGuardedController {
  @Get('guarded')
  guarded(@CurrentUser() user: AuthenticatedUser) {
    return { id: user.id };
  }

  @Public()
  @Get('open')
  open() {
    return { open: true };
  }
}

type AdapterName = 'express' | 'fastify';

function hostModule(
  auth: ReturnType<typeof FingerprintAuthModule.forRoot>,
  controllers: Type[] = [NotesController],
): Type {
  @Module({ imports: [auth], controllers, providers: [AdminService] })
  class HostModule {}
  return HostModule;
}

/** Builds and starts a host app on the adapter, listening on a free loopback port. */
async function startHost(
  module: Type,
  adapter: AdapterName,
  setup: (app: INestApplication) => void = () => undefined,
): Promise<{ app: INestApplication; url: string }> {
  const app =
    adapter === 'express'
      ? await NestFactory.create(module, new ExpressAdapter(), { logger: false })
      : await NestFactory.create(module, new FastifyAdapter(), { logger: false });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  app.useGlobalFilters(new HostExceptionFilter(app.get(HttpAdapterHost)));
  setup(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

describe.each<AdapterName>(['express', 'fastify'])('the library in a %s host app', (adapter) => {
  const apps: INestApplication[] = [];
  const start = async (
    module: Type,
    setup?: (app: INestApplication) => void,
  ): Promise<HostClient> => {
    const { app, url } = await startHost(module, adapter, setup);
    apps.push(app);
    return new HostClient(url);
  };

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  it('signs in under routePrefix and guards the host routes with the fingerprint', async () => {
    const host = await start(
      hostModule(FingerprintAuthModule.forRoot({ ...baseOptions(), routePrefix: 'api' })),
    );
    const registered = await host.post('/api/auth/register', {
      email: 'ada@example.com',
      password: PASSWORD,
    });
    expect(registered.status).toBe(201);
    const { id } = (await registered.json()) as { id: string };

    const login = await host.login('/api', 'ada@example.com');
    const fingerprint = login.setCookies.find((cookie) => cookie.startsWith('fgp='));
    const refresh = login.setCookies.find((cookie) => cookie.startsWith('fpa_refresh='));
    expect(fingerprint).toMatch(/HttpOnly/i);
    expect(refresh).toMatch(/HttpOnly/i);
    expect(refresh).toMatch(/Path=\/api\/auth\/refresh(;|$)/);

    const notes = await host.get('/notes', login.credentials);
    expect(notes.status).toBe(200);
    expect(await notes.json()).toEqual({
      owner: { id, email: 'ada@example.com', sessionId: login.sessionId },
      sessionUser: id,
    });

    // The token alone, without the browser's fingerprint cookie, is refused.
    const stolen = await host.get('/notes', { authorization: login.credentials.authorization });
    expect(stolen.status).toBe(401);
    expect(await host.get('/notes')).toMatchObject({ status: 401 });

    // Refresh with the cookie the browser would send there: a new token and a new fingerprint.
    const refreshed = await host.post('/api/auth/refresh', undefined, {
      cookie: login.cookie('fpa_refresh'),
    });
    expect(refreshed.status).toBe(200);
    const renewed = (await refreshed.json()) as { accessToken: string; sessionId: string };
    expect(renewed.sessionId).toBe(login.sessionId);
    const newFingerprint = cookieOf(refreshed, 'fgp');
    const again = await host.get('/notes', {
      authorization: `Bearer ${renewed.accessToken}`,
      cookie: newFingerprint,
    });
    expect(again.status).toBe(200);
    const current = { authorization: `Bearer ${renewed.accessToken}`, cookie: newFingerprint };

    // The session is listed, and once revoked its token is refused at once.
    const sessions = await host.get('/api/sessions', current);
    expect(sessions.status).toBe(200);
    const list = (await sessions.json()) as { sessions: Array<{ id: string; current: boolean }> };
    expect(list.sessions).toEqual([
      expect.objectContaining({ id: login.sessionId, current: true }),
    ]);
    const other = await host.login('/api', 'ada@example.com');
    const revoked = await host.delete(`/api/sessions/${other.sessionId}`, current);
    expect(revoked.status).toBe(204);
    expect((await host.get('/notes', other.credentials)).status).toBe(401);
    expect((await host.get('/notes', current)).status).toBe(200);

    // Nothing is mounted outside the prefix.
    expect(
      (await host.post('/auth/login', { email: 'ada@example.com', password: PASSWORD })).status,
    ).toBe(404);
  });

  it("keeps the library's validation and error shapes under the host's global pipe and filter", async () => {
    const host = await start(hostModule(FingerprintAuthModule.forRoot(baseOptions())));
    // The host's whitelist/forbidNonWhitelisted pipe accepts the library's DTOs as they are.
    expect(
      (await host.post('/auth/register', { email: 'bo@example.com', password: PASSWORD })).status,
    ).toBe(201);
    const login = await host.login('', 'bo@example.com');
    expect(login.sessionId).toEqual(expect.any(String));

    // A bad body on a library route: 400 in the library's shape, naming the field.
    const bad = await host.post('/auth/login', { email: 'bo@example.com' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });

    // Wrong password: the library's 401, not the host's shape.
    const wrong = await host.post('/auth/login', {
      email: 'bo@example.com',
      password: 'wrong password!!',
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ statusCode: 401 });

    // The host's own guarded route answers through the host's filter.
    const refused = await host.get('/notes');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ host: true, status: 401 });
  });

  it("lets the host's services use the library's: ending every session of a user", async () => {
    const host = await start(hostModule(FingerprintAuthModule.forRoot(baseOptions())));
    await host.post('/auth/register', { email: 'cy@example.com', password: PASSWORD });
    const first = await host.login('', 'cy@example.com');
    const second = await host.login('', 'cy@example.com');

    const ended = await host.post('/notes/sign-out-everywhere', undefined, first.credentials);
    expect(ended.status).toBe(201);
    expect(await ended.json()).toEqual({ ended: 2, email: 'cy@example.com' });
    expect((await host.get('/notes', first.credentials)).status).toBe(401);
    expect((await host.get('/notes', second.credentials)).status).toBe(401);

    // The library's metrics, in a registry of its own the host can serve or merge.
    const metrics = await apps[0].get(FingerprintAuthMetrics).registry.metrics();
    expect(metrics).toMatch(/^fpa_logins_total\{result="success"\} 2$/m);
    expect(metrics).toMatch(/^fpa_guard_rejections_total\{[^}]*\} 2$/m);
  });

  it('ends every other session with POST /sessions/logout-all', async () => {
    const host = await start(hostModule(FingerprintAuthModule.forRoot(baseOptions())));
    await host.post('/auth/register', { email: 'di@example.com', password: PASSWORD });
    const first = await host.login('', 'di@example.com');
    const second = await host.login('', 'di@example.com');
    const third = await host.login('', 'di@example.com');
    const all = await host.post('/sessions/logout-all', undefined, first.credentials);
    expect(all.status).toBe(200);
    expect(await all.json()).toEqual({ revoked: 2 });
    expect((await host.get('/notes', first.credentials)).status).toBe(200);
    expect((await host.get('/notes', second.credentials)).status).toBe(401);
    expect((await host.get('/notes', third.credentials)).status).toBe(401);
  });

  it('with globalGuard guards every host route but @Public() ones', async () => {
    const host = await start(
      hostModule(FingerprintAuthModule.forRoot({ ...baseOptions(), globalGuard: true }), [
        GloballyGuardedController,
      ]),
    );
    expect((await host.get('/global/open')).status).toBe(200);
    expect((await host.get('/global/guarded')).status).toBe(401);
    // The library's own public routes stay public.
    expect(
      (await host.post('/auth/register', { email: 'ed@example.com', password: PASSWORD })).status,
    ).toBe(201);
    const login = await host.login('', 'ed@example.com');
    const guarded = await host.get('/global/guarded', login.credentials);
    expect(guarded.status).toBe(200);
    expect(((await guarded.json()) as { id: string }).id).toEqual(expect.any(String));
  });

  it('mounts only the routes asked for; the host registers users through UsersService', async () => {
    @Controller('signup')
    class SignupController {
      constructor(private readonly users: UsersService) {}

      @Post(':email')
      async signUp(@Param('email') email: string) {
        const user = await this.users.register(email, PASSWORD, null);
        return { id: user.id };
      }
    }
    const host = await start(
      hostModule(
        FingerprintAuthModule.forRoot({
          ...baseOptions(),
          routes: { register: false, sessions: false, password: false, account: false },
        }),
        [NotesController, SignupController],
      ),
    );
    expect(
      (await host.post('/auth/register', { email: 'fay@example.com', password: PASSWORD })).status,
    ).toBe(404);
    expect((await host.post('/signup/fay@example.com')).status).toBe(201);
    const login = await host.login('', 'fay@example.com');
    expect((await host.get('/sessions', login.credentials)).status).toBe(404);
    expect((await host.post('/auth/password', {}, login.credentials)).status).toBe(404);
    expect((await host.delete('/account', login.credentials)).status).toBe(404);
    expect((await host.get('/auth/me', login.credentials)).status).toBe(200);
    expect((await host.post('/auth/logout', undefined, login.credentials)).status).toBe(204);
    expect((await host.get('/notes', login.credentials)).status).toBe(401);
  });

  it("puts the refresh cookie under the host's global prefix", async () => {
    const host = await start(
      hostModule(FingerprintAuthModule.forRoot({ ...baseOptions(), routePrefix: 'auth-service' })),
      (app) => app.setGlobalPrefix('/v2/'),
    );
    await host.post('/v2/auth-service/auth/register', {
      email: 'gil@example.com',
      password: PASSWORD,
    });
    const login = await host.login('/v2/auth-service', 'gil@example.com');
    expect(login.setCookies.find((cookie) => cookie.startsWith('fpa_refresh='))).toMatch(
      /Path=\/v2\/auth-service\/auth\/refresh(;|$)/,
    );
    const refreshed = await host.post('/v2/auth-service/auth/refresh', undefined, {
      cookie: login.cookie('fpa_refresh'),
    });
    expect(refreshed.status).toBe(200);
  });

  it('puts the refresh cookie where refreshCookiePath says (a proxy rewriting paths)', async () => {
    const host = await start(
      hostModule(
        FingerprintAuthModule.forRoot({
          ...baseOptions(),
          refreshCookiePath: '/identity/auth/refresh',
        }),
      ),
    );
    await host.post('/auth/register', { email: 'gus@example.com', password: PASSWORD });
    const login = await host.login('', 'gus@example.com');
    expect(login.setCookies.find((cookie) => cookie.startsWith('fpa_refresh='))).toMatch(
      /Path=\/identity\/auth\/refresh(;|$)/,
    );
  });

  it("documents the library's routes in the host's OpenAPI document", async () => {
    const { app } = await startHost(
      hostModule(FingerprintAuthModule.forRoot({ ...baseOptions(), routePrefix: 'api' })),
      adapter,
    );
    apps.push(app);
    const document = SwaggerModule.createDocument(
      app,
      withFingerprintAuth(new DocumentBuilder().setTitle('Host'), app).build(),
    );
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/api/auth/login', '/api/sessions/{sessionId}', '/notes']),
    );
    expect(document.components?.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      fingerprint: { type: 'apiKey', in: 'cookie', name: 'fgp' },
      refresh: { type: 'apiKey', in: 'cookie', name: 'fpa_refresh' },
    });
    expect(JSON.stringify(document.components?.securitySchemes)).toContain(
      'Path=/api/auth/refresh',
    );
    expect(document.paths['/api/auth/me'].get?.security).toEqual([{ bearer: [], fingerprint: [] }]);
  });

  it('runs two instances in one process that share nothing', async () => {
    const one = await start(hostModule(FingerprintAuthModule.forRoot(baseOptions())));
    const two = await start(
      hostModule(
        FingerprintAuthModule.forRoot({
          ...baseOptions(),
          jwtSecret: 'a-second-secret-of-another-app-long-enough-0123456789',
        }),
      ),
    );
    for (const host of [one, two]) {
      expect(
        (await host.post('/auth/register', { email: 'hal@example.com', password: PASSWORD }))
          .status,
      ).toBe(201);
    }
    const login = await one.login('', 'hal@example.com');
    expect((await one.get('/notes', login.credentials)).status).toBe(200);
    // Another key and another session store: the first app's token means nothing to the second.
    expect((await two.get('/notes', login.credentials)).status).toBe(401);
  });
});

describe('forRootAsync', () => {
  const HOST_SETTINGS = Symbol('HOST_SETTINGS');

  @Module({
    providers: [{ provide: HOST_SETTINGS, useValue: { secret: TEST_SECRET, prefix: 'api' } }],
    exports: [HOST_SETTINGS],
  })
  class HostSettingsModule {}

  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("builds the options from the host's own providers", async () => {
    @Injectable()
    class Probe {
      constructor(@Inject(HOST_SETTINGS) readonly settings: { secret: string }) {}
    }
    const auth = FingerprintAuthModule.forRootAsync({
      imports: [HostSettingsModule],
      inject: [HOST_SETTINGS],
      useFactory: (settings: { secret: string }) => baseOptions({ jwtSecret: settings.secret }),
      routePrefix: 'api',
    });
    @Module({
      imports: [auth, HostSettingsModule],
      controllers: [NotesController],
      providers: [AdminService, Probe],
    })
    class AsyncHost {}
    const started = await startHost(AsyncHost, 'fastify');
    app = started.app;
    const host = new HostClient(started.url);
    expect(
      (await host.post('/api/auth/register', { email: 'ivy@example.com', password: PASSWORD }))
        .status,
    ).toBe(201);
    const login = await host.login('/api', 'ivy@example.com');
    expect((await host.get('/notes', login.credentials)).status).toBe(200);
  });

  it('refuses options its factory returns that break the rules, naming them', async () => {
    const auth = FingerprintAuthModule.forRootAsync({
      useFactory: async () => baseOptions({ accessTokenTtl: 'forever' }),
    });
    await expect(
      NestFactory.create(hostModule(auth), new FastifyAdapter(), {
        logger: false,
        abortOnError: false,
      }),
    ).rejects.toThrow(/accessTokenTtl/);
  });
});

describe('options', () => {
  const create = (options: FingerprintAuthModuleOptions) =>
    NestFactory.create(hostModule(FingerprintAuthModule.forRoot(options)), new FastifyAdapter(), {
      logger: false,
      abortOnError: false,
    });

  it('names a setting whose value is refused, and says what it takes', async () => {
    const failure = await create(baseOptions({ sessionIdleTtl: -5 })).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(InvalidConfigError);
    expect((failure as Error).message).toMatch(/sessionIdleTtl/);
    expect((failure as Error).message).not.toMatch(/SESSION_IDLE_TTL/);
  });

  it('refuses an option it does not know (a typo is not silently ignored)', async () => {
    const options = { ...baseOptions(), jwtSecert: 'x' } as FingerprintAuthModuleOptions;
    await expect(create(options)).rejects.toThrow(
      'jwtSecert is not an option of FingerprintAuthModule',
    );
  });

  it('refuses a weak signing key, never echoing it', async () => {
    const failure = await create(baseOptions({ jwtSecret: 'password' })).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(InvalidConfigError);
    expect((failure as Error).message).toMatch(/jwtSecret/);
    expect((failure as Error).message).not.toContain("'password'");
  });

  it('refuses a route prefix that is not path segments, when the module is defined', () => {
    expect(() => FingerprintAuthModule.forRoot({ ...baseOptions(), routePrefix: 'a b' })).toThrow(
      /routePrefix must be path segments/,
    );
  });

  it('takes settings as typed values or as the strings the environment gives', async () => {
    const app = await create(
      baseOptions({ accessTokenTtl: '5m', sessionIdleTtl: 600, cookieSecure: 'false' as never }),
    );
    try {
      const config = app.get(FingerprintAuthConfig);
      expect(config.accessTokenTtl).toBe(300);
      expect(config.sessionIdleTtl).toBe(600);
      expect(config.cookieSecure).toBe(false);
    } finally {
      await app.close();
    }
  });
});
