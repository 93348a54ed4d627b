import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { startTinyApp } from './fixtures/tiny-app';
import {
  recordResponses,
  ResponseLog,
  undocumentedResponses,
} from './support/documented-responses';

describe('answers checked against the OpenAPI document', () => {
  let app: NestFastifyApplication;
  let document: OpenAPIObject;
  // Not registered for the after-file check: this file's undocumented answers are on purpose.
  let log: ResponseLog;

  beforeAll(async () => {
    const tiny = await startTinyApp((created) => {
      log = recordResponses(created);
    });
    app = tiny.app;
    document = tiny.document();
  });

  afterAll(() => app.close());

  const get = (url: string) => app.getHttpAdapter().getInstance().inject({ method: 'GET', url });

  it('finds nothing to report in documented answers', async () => {
    const before = log.responses.length;
    expect((await get('/tiny/conflict')).statusCode).toBe(200);
    expect((await get('/tiny/conflict?answer=documented')).json()).toMatchObject({
      statusCode: 409,
      code: 'EMAIL_TAKEN',
    });
    const busy = await get('/tiny/busy');
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBeDefined();
    const head = await app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'HEAD', url: '/tiny/conflict' });
    expect(head.statusCode).toBe(200);
    const removed = await app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'DELETE', url: '/tiny/items/42' });
    expect(removed.statusCode).toBe(204);
    // No route matched: not the API's answer, not recorded.
    expect((await get('/nowhere')).statusCode).toBe(404);

    const documented = log.responses.slice(before);
    expect(documented.map(({ method, route, status }) => `${method} ${route} ${status}`)).toEqual([
      'GET /tiny/conflict 200',
      'GET /tiny/conflict 409',
      'GET /tiny/busy 503',
      'HEAD /tiny/conflict 200',
      'DELETE /tiny/items/:itemId 204',
    ]);
    expect(undocumentedResponses(documented, document)).toEqual([]);
  });

  it('names each undocumented status, code, missing code or header, and unknown route', async () => {
    const before = log.responses.length;
    expect((await get('/tiny/conflict?answer=teapot')).statusCode).toBe(418);
    expect((await get('/tiny/conflict?answer=other-code')).json()).toMatchObject({
      statusCode: 409,
      code: 'SESSION_LIMIT_REACHED',
    });
    expect((await get('/tiny/busy?answer=bare')).statusCode).toBe(503);
    expect((await get('/tiny/hidden')).statusCode).toBe(200);

    expect(undocumentedResponses(log.responses.slice(before), document)).toEqual([
      'GET /tiny/busy answered 503 without Retry-After, which its 503 documents',
      'GET /tiny/busy answered 503 without a code, and its 503 always has one of STORE_UNAVAILABLE',
      'GET /tiny/conflict answered 409 SESSION_LIMIT_REACHED, and its 409 lists only EMAIL_TAKEN',
      'GET /tiny/conflict answered 418, and the document lists no 418 for it',
      'GET /tiny/hidden is not in the OpenAPI document',
    ]);
  });

  it('keeps one record per distinct answer', () => {
    const distinct = new ResponseLog();
    const answer = { method: 'GET', route: '/a', status: 503, code: 'X', headers: ['retry-after'] };
    for (let i = 0; i < 20; i++) distinct.add({ ...answer, headers: [...answer.headers] });
    distinct.add({ ...answer, headers: [] });
    distinct.add({ ...answer, status: 429 });
    expect(distinct.responses).toHaveLength(3);
  });
});
