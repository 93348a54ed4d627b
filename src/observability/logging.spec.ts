import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Logger } from '@nestjs/common';
import { PinoLoggerService, REDACTED_PATHS, requestId } from './logging';

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
    for (const secret of ['token-value', 'cookie-value', 'pw-1', 'pw-2', 'pw-3']) {
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
