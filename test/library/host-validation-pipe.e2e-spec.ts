import { HttpStatus, Module, ValidationPipe, type ValidationPipeOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { FingerprintAuthModule } from '../../src';
import { openApiDocument } from '../../src/http/openapi';
import { checkResponsesAgainst } from '../support/documented-responses';
import { TEST_SECRET } from '../support/app';

/*
 * A host app's global ValidationPipe runs before our routes' own pipes, on every parameter whose
 * type is a class. Whatever its options, our routes keep their own validation: their messages,
 * unknown fields refused (never stripped), their status.
 */

const HOST_PIPES: Array<[string, ValidationPipeOptions]> = [
  ['whitelist and forbidNonWhitelisted', { whitelist: true, forbidNonWhitelisted: true }],
  ['whitelist alone (strips unknown fields)', { whitelist: true }],
  [
    'transform, no messages, 422',
    {
      transform: true,
      disableErrorMessages: true,
      errorHttpStatusCode: HttpStatus.UNPROCESSABLE_ENTITY,
    },
  ],
];

async function hostApp(pipe: ValidationPipeOptions): Promise<NestFastifyApplication> {
  @Module({
    imports: [
      FingerprintAuthModule.forRoot({
        jwtSecret: TEST_SECRET,
        databaseUrl: 'sqlite::memory:',
        sessionSnapshotPath: 'off',
        geoip: false,
        cookieSecure: false,
        cleanupCron: '0 0 0 1 1 *',
      }),
    ],
  })
  class HostModule {}
  const app = await NestFactory.create<NestFastifyApplication>(HostModule, new FastifyAdapter(), {
    logger: false,
    abortOnError: false,
  });
  app.useGlobalPipes(new ValidationPipe(pipe));
  checkResponsesAgainst(app, () => openApiDocument(app));
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe.each(HOST_PIPES)('a host app with a global ValidationPipe (%s)', (_, pipe) => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    app = await hostApp(pipe);
  });
  afterAll(() => app.close());

  const post = (url: string, payload: unknown) =>
    app.inject({ method: 'POST', url, payload: payload as object });

  it('answers a missing field with the library’s own message', async () => {
    const response = await post('/auth/login', {});
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: ['email is required', 'password is required'],
    });
  });

  it('refuses an unknown field instead of dropping it, and creates nothing', async () => {
    const email = 'role@example.com';
    const refused = await post('/auth/register', { email, password: 'long enough', role: 'admin' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ message: ['property role should not exist'] });
    const login = await post('/auth/login', { email, password: 'long enough' });
    expect(login.statusCode).toBe(401);
  });

  it('refuses a body that is not an object as such', async () => {
    const response = await post('/auth/login', ['someone@example.com']);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ message: 'Request body must be a JSON object' });
  });

  it('still takes a valid body', async () => {
    const email = 'valid@example.com';
    const registered = await post('/auth/register', { email, password: 'long enough' });
    expect(registered.statusCode).toBe(201);
    const login = await post('/auth/login', { email, password: 'long enough' });
    expect(login.statusCode).toBe(200);
  });
});
