import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Logger } from '@nestjs/common';
import fastify from 'fastify';
import {
  createRootLogger,
  fastifyLogging,
  logCompletedRequests,
  PinoLoggerService,
  REDACTED_PATHS,
  redactQuery,
  requestId,
  withoutQuery,
} from './logging';

const request = (id?: string) =>
  ({ headers: id === undefined ? {} : { 'x-request-id': id } }) as IncomingMessage;

describe('request ids', () => {
  it('keeps a short, plain incoming id', () => {
    expect(requestId(request('abc-123_x.y:z'))).toBe('abc-123_x.y:z');
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too long', 'a'.repeat(65)],
    ['with spaces', 'a b'],
    ['with a newline', 'a\nb'],
    ['with quotes', 'a"b'],
  ])('generates a UUID when the incoming id is %s', (_case, id) => {
    const generated = requestId(request(id));
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated).not.toBe(id);
  });
});

describe('log redaction', () => {
  it('replaces credentials in headers and password fields wherever an object is logged', () => {
    const lines: string[] = [];
    const logger = pino(
      { redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    logger.info({
      req: {
        headers: { authorization: 'Bearer token-value', cookie: 'fgp=cookie-value', host: 'h' },
      },
      res: { headers: { 'set-cookie': 'fgp=new-cookie-value' } },
      body: { password: 'pw-1', currentPassword: 'pw-2', newPassword: 'pw-3', email: 'e@x' },
      err: { message: 'Parse Error', rawPacket: 'GET / HTTP/1.1\r\nX-Api-Key: raw-key-value' },
    });
    const line = JSON.parse(lines[0]);
    expect(line.req.headers).toEqual({
      authorization: '[redacted]',
      cookie: '[redacted]',
      host: 'h',
    });
    expect(line.res.headers['set-cookie']).toBe('[redacted]');
    expect(line.body).toEqual({
      password: '[redacted]',
      currentPassword: '[redacted]',
      newPassword: '[redacted]',
      email: 'e@x',
    });
    expect(line.err).toMatchObject({ message: 'Parse Error', rawPacket: '[redacted]' });
    for (const secret of ['token-value', 'cookie-value', 'pw-1', 'pw-2', 'pw-3', 'raw-key-value']) {
      expect(lines[0]).not.toContain(secret);
    }
  });
});

describe('PinoLoggerService', () => {
  function capture(level = 'info') {
    const lines: Record<string, unknown>[] = [];
    const root = pino(
      { level, base: undefined, timestamp: false },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    );
    return { lines, service: new PinoLoggerService(root) };
  }

  it("writes Nest's context, an object's fields and a string as msg", () => {
    const { lines, service } = capture();
    const logger = new Logger('Security');
    Logger.overrideLogger(service);
    try {
      logger.warn({ event: 'login_failed', reqId: 'r-1' });
      logger.log('listening');
    } finally {
      Logger.overrideLogger(true);
    }
    expect(lines).toEqual([
      { level: 40, context: 'Security', event: 'login_failed', reqId: 'r-1' },
      { level: 30, context: 'Security', msg: 'listening' },
    ]);
  });

  it('keeps the stack Nest passes with an error, and an Error as err', () => {
    const { lines, service } = capture();
    service.error('token check threw', 'Error: boom\n    at x', 'Auth');
    service.error(new Error('kaput'), 'Errors');
    expect(lines[0]).toEqual({
      level: 50,
      context: 'Auth',
      stack: 'Error: boom\n    at x',
      msg: 'token check threw',
    });
    expect(lines[1]).toMatchObject({ level: 50, context: 'Errors', msg: 'kaput' });
    expect((lines[1].err as { message: string }).message).toBe('kaput');
  });

  it('writes nothing below the level, and maps verbose to trace', () => {
    const { lines, service } = capture('warn');
    service.log('quiet', 'Ctx');
    service.debug('quieter', 'Ctx');
    service.verbose('quietest', 'Ctx');
    service.warn('loud', 'Ctx');
    expect(lines).toEqual([{ level: 40, context: 'Ctx', msg: 'loud' }]);
    const traced = capture('trace');
    traced.service.verbose('v', 'Ctx');
    expect(traced.lines).toEqual([{ level: 10, context: 'Ctx', msg: 'v' }]);
  });
});

describe('request log lines', () => {
  it.each([
    ['/auth/me', '/auth/me'],
    ['/auth/me?', '/auth/me?'],
    ['/auth/me?access_token=abc', '/auth/me?access_token=[redacted]'],
    ['/a?x=1&y=&z=%20q', '/a?x=[redacted]&y=[redacted]&z=[redacted]'],
    ['/a?bare-token', '/a?[redacted]'],
    ['/a?x=1&&bare', '/a?x=[redacted]&&[redacted]'],
    ['/a?x=1=2', '/a?x=[redacted]'],
  ])('logs %s as %s', (url, logged) => {
    expect(redactQuery(url)).toBe(logged);
  });

  it('drops the query and fragment of a Referer', () => {
    expect(withoutQuery('https://app.example.com/p?token=abc#frag')).toBe(
      'https://app.example.com/p',
    );
    expect(withoutQuery('https://app.example.com/p#frag?x')).toBe('https://app.example.com/p');
    expect(withoutQuery('https://app.example.com/')).toBe('https://app.example.com/');
  });

  it('keeps the values of allow-listed headers only, and names the rest', async () => {
    const lines: string[] = [];
    const write = process.stdout.write;
    // createRootLogger writes to stdout, as the service does.
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(chunk.toString());
      return true;
    }) as typeof process.stdout.write;
    // As createApp sets it up: Fastify's own request lines off, one line from logCompletedRequests.
    const app = fastify(fastifyLogging(createRootLogger('info')));
    try {
      logCompletedRequests(app);
      app.get('/ok', async () => ({ ok: true }));
      await app.inject({
        method: 'GET',
        url: '/ok?q=secret-query',
        headers: {
          'user-agent': 'agent/1',
          'content-type': 'application/json',
          'x-forwarded-proto': 'https',
          authorization: 'Bearer secret-1',
          'proxy-authorization': 'Basic secret-2',
          'x-api-key': 'secret-3',
          'x-anything': 'secret-4',
        },
      });
    } finally {
      process.stdout.write = write;
      await app.close();
    }
    const line = lines.map((text) => JSON.parse(text)).find((l) => l.msg === 'request completed');
    expect(line.req.url).toBe('/ok?q=[redacted]');
    expect(line.req.headers).toEqual({
      'user-agent': 'agent/1',
      'content-type': 'application/json',
      'x-forwarded-proto': 'https',
      host: 'localhost:80',
      authorization: '[redacted]',
      'proxy-authorization': '[redacted]',
      'x-api-key': '[redacted]',
      'x-anything': '[redacted]',
    });
    expect(lines.join('')).not.toMatch(/secret-/);
  });
});

describe("a request's logger", () => {
  /** An app as createApp sets up its logging, on a root logger at `level` writing into `lines`. */
  const appAt = (level: 'info' | 'warn', lines: string[]) => {
    const root = pino(
      { level },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const child = jest.spyOn(root, 'child');
    const app = fastify(fastifyLogging(root));
    logCompletedRequests(app);
    app.get('/quiet', async () => ({ ok: true }));
    app.get('/warns', async (req) => {
      req.log.warn({ event: 'first' });
      req.log.info('below the level at warn');
      req.log.warn({ event: 'second' }, 'with a message %s', 'formatted');
      return { id: req.id };
    });
    return {
      app,
      child,
      /** Calls of `child` after the app's start (Fastify makes one of its own when it starts). */
      async started() {
        await app.ready();
        child.mockClear();
      },
    };
  };
  const parsed = (lines: string[]) => lines.map((line) => JSON.parse(line));

  it('makes no child logger for a request that writes nothing', async () => {
    const lines: string[] = [];
    const { app, child, started } = appAt('warn', lines);
    await started();
    try {
      expect((await app.inject({ method: 'GET', url: '/quiet' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
  });

  it("writes a request's lines through one child, bound to the request's id", async () => {
    const lines: string[] = [];
    const { app, child, started } = appAt('warn', lines);
    await started();
    let id: string;
    try {
      id = (await app.inject({ method: 'GET', url: '/warns' })).json<{ id: string }>().id;
    } finally {
      await app.close();
    }
    expect(child).toHaveBeenCalledTimes(1);
    expect(parsed(lines)).toEqual([
      expect.objectContaining({ level: 40, reqId: id, event: 'first' }),
      expect.objectContaining({
        level: 40,
        reqId: id,
        event: 'second',
        msg: 'with a message formatted',
      }),
    ]);
  });

  it('writes the completion line with the id at info, and what is on at that level', async () => {
    const lines: string[] = [];
    const { app } = appAt('info', lines);
    try {
      await app.inject({ method: 'GET', url: '/warns' });
    } finally {
      await app.close();
    }
    const written = parsed(lines);
    expect(written.map((line) => line.msg ?? line.event)).toEqual([
      'first',
      'below the level at warn',
      'with a message formatted',
      'request completed',
    ]);
    expect(new Set(written.map((line) => line.reqId)).size).toBe(1);
  });
});
