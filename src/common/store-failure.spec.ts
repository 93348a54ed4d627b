import { connect } from 'node:net';
import { ReplyError } from 'ioredis';
import { DatabaseError } from 'pg';
import { DatabaseTimeoutError } from '../database/database';
import { StoreUnavailableError } from './errors';
import { classifyStoreFailure } from './store-failure';

/** What connecting to a loopback port nobody listens on raises (port from this suite's range). */
function refusedConnection(): Promise<Error> {
  return new Promise((resolve) => {
    const socket = connect(7869, '127.0.0.1');
    socket.once('error', (error) => {
      socket.destroy();
      resolve(error);
    });
  });
}

const postgresError = (code: string, message: string) =>
  Object.assign(new DatabaseError(message, message.length, 'error'), { code });

describe('classifyStoreFailure', () => {
  it('reads a refused connection from its code, not its message (which names it)', async () => {
    const error = await refusedConnection();
    expect(error.message).toContain('127.0.0.1:7869');
    const failure = classifyStoreFailure(error);
    expect(failure).toEqual({ reason: 'connection_refused', code: 'ECONNREFUSED' });
    expect(JSON.stringify(failure)).not.toContain('127.0.0.1');
  });

  it.each([
    [
      'a password PostgreSQL refused',
      postgresError('28P01', 'password authentication failed for user "fpa"'),
      { reason: 'auth_failed', code: '28P01' },
    ],
    [
      'a statement_timeout',
      postgresError('57014', 'canceling statement due to statement timeout'),
      { reason: 'timeout', code: '57014' },
    ],
    [
      'a server shutting down',
      postgresError('57P01', 'terminating connection due to administrator command'),
      { reason: 'connection_lost', code: '57P01' },
    ],
    [
      'a server starting up',
      postgresError('57P03', 'the database system is starting up'),
      { reason: 'connection_refused', code: '57P03' },
    ],
    [
      'any other SQLSTATE',
      postgresError('53100', 'could not extend file'),
      { reason: 'server_error', code: '53100' },
    ],
    [
      'a Redis password refused',
      new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'),
      { reason: 'auth_failed', code: 'WRONGPASS' },
    ],
    [
      'a Redis without credentials',
      new ReplyError('NOAUTH Authentication required.'),
      { reason: 'auth_failed', code: 'NOAUTH' },
    ],
    [
      'a Redis still loading',
      new ReplyError('LOADING Redis is loading the dataset in memory'),
      { reason: 'server_error', code: 'LOADING' },
    ],
    ['an ioredis command timeout', new Error('Command timed out'), { reason: 'timeout' }],
    [
      'an ioredis closed connection',
      new Error('Connection is closed.'),
      { reason: 'connection_lost' },
    ],
    [
      'a pg connection dropped',
      new Error('Connection terminated unexpectedly'),
      { reason: 'connection_lost' },
    ],
    [
      'a pg pool with no free connection',
      new Error('timeout exceeded when trying to connect'),
      { reason: 'timeout' },
    ],
    ['a ping past its deadline', new DatabaseTimeoutError(500), { reason: 'timeout' }],
    [
      'a reset connection',
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      { reason: 'connection_lost', code: 'ECONNRESET' },
    ],
    [
      'a busy SQLite file',
      Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
      { reason: 'timeout', code: 'SQLITE_BUSY' },
    ],
  ])('classifies %s', (_case, error, expected) => {
    expect(classifyStoreFailure(error)).toEqual(expected);
  });

  it('follows causes and the first error of an AggregateError', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(classifyStoreFailure(new StoreUnavailableError('users', refused))).toEqual({
      reason: 'connection_refused',
      code: 'ECONNREFUSED',
    });
    expect(classifyStoreFailure(new AggregateError([refused], 'all addresses failed'))).toEqual({
      reason: 'connection_refused',
      code: 'ECONNREFUSED',
    });
  });

  it('says unknown, with no message, for anything else', () => {
    const failure = classifyStoreFailure(
      new Error('connect to db.internal.example:5432 as fpa failed'),
    );
    expect(failure).toEqual({ reason: 'unknown' });
    expect(classifyStoreFailure('a string')).toEqual({ reason: 'unknown' });
    expect(classifyStoreFailure(undefined)).toEqual({ reason: 'unknown' });
    // A code that does not look like one is not repeated either.
    expect(
      classifyStoreFailure(Object.assign(new Error('x'), { code: 'host db.internal:5432' })),
    ).toEqual({
      reason: 'unknown',
    });
  });
});
