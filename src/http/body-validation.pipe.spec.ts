import { BadRequestException } from '@nestjs/common';
import { AccountEventsQueryDto } from '../audit/dto/audit-events.dto';
import { ChangePasswordDto, LoginDto, RegisterDto } from '../auth/dto/credentials.dto';
import { BodyValidationPipe } from './body-validation.pipe';

const pipe = new BodyValidationPipe();
const PASSWORD = 'correct horse battery staple';

/** What a client would read in `message` for this body, or the DTO instance when it is valid. */
async function validate(metatype: new () => object, body: unknown): Promise<unknown> {
  try {
    return await pipe.transform(body, { type: 'body', metatype });
  } catch (error) {
    if (!(error instanceof BadRequestException)) throw error;
    return (error.getResponse() as { message: unknown }).message;
  }
}

describe('BodyValidationPipe', () => {
  it.each([
    ['no fields', {}, ['email is required', 'password is required']],
    [
      'no body at all (an empty JSON body)',
      undefined,
      ['email is required', 'password is required'],
    ],
    ['a missing password', { email: 'a@example.com' }, ['password is required']],
    ['a number as email', { email: 42, password: PASSWORD }, ['email must be a string']],
    ['null as email', { email: null, password: PASSWORD }, ['email must be a string']],
    [
      'an object as password',
      { email: 'a@example.com', password: { $ne: '' } },
      ['password must be a string'],
    ],
    [
      'a malformed email and a short password',
      { email: 'nope', password: 'short' },
      ['email must be an email address', 'password must be longer than or equal to 8 characters'],
    ],
    [
      'an email too long (every constraint it fails, each true)',
      { email: `${'a'.repeat(250)}@example.com`, password: PASSWORD },
      ['email must be an email address', 'email must be shorter than or equal to 254 characters'],
    ],
    [
      'an unknown field',
      { email: 'a@example.com', password: PASSWORD, role: 'admin' },
      ['property role should not exist'],
    ],
    [
      'a control character in displayName',
      { email: 'a@example.com', password: PASSWORD, displayName: 'A\u0000' },
      ['displayName must not contain control characters'],
    ],
  ])('answers a registration with %s precisely', async (_, body, messages) => {
    expect(await validate(RegisterDto, body)).toEqual(messages);
  });

  it.each([
    ['an array', [{ email: 'a@example.com', password: PASSWORD }]],
    ['a string', 'a@example.com'],
    ['a number', 42],
    ['null', null],
  ])('refuses %s as a body: it must be an object', async (_, body) => {
    expect(await validate(LoginDto, body)).toBe('Request body must be a JSON object');
  });

  it.each([
    ['toString', { email: 'a@example.com', password: PASSWORD, toString: 1 }],
    ['hasOwnProperty', { email: 'a@example.com', password: PASSWORD, hasOwnProperty: [] }],
    ['constructor', { email: 'a@example.com', password: PASSWORD, constructor: 'x' }],
    ['valueOf', { email: 'a@example.com', password: PASSWORD, valueOf: null }],
    ['prototype', { email: 'a@example.com', password: PASSWORD, prototype: {} }],
  ])('refuses an unknown field the transform would drop unseen: %s', async (key, body) => {
    expect(await validate(LoginDto, body)).toEqual([`property ${key} should not exist`]);
  });

  it('lists such a field together with the rest of what is wrong', async () => {
    expect(await validate(LoginDto, { toString: 1, password: 42 })).toEqual([
      'property toString should not exist',
      'email is required',
      'password must be a string',
    ]);
  });

  it('refuses __proto__ as a field, never merging it into the object', async () => {
    const body = JSON.parse(`{"email":"a@example.com","password":"${PASSWORD}","__proto__":{}}`);
    expect(await validate(LoginDto, body)).toEqual(['property __proto__ should not exist']);
  });

  it('refuses such a field in a query too', async () => {
    const query = Object.assign(Object.create(null) as object, { limit: '5', toString: '1' });
    const refused = await new BodyValidationPipe(AccountEventsQueryDto)
      .transform(query, { type: 'query' })
      .catch((error: BadRequestException) => error.getResponse());
    expect(refused).toMatchObject({ message: ['property toString should not exist'] });
  });

  it('names the missing field of a password change', async () => {
    expect(await validate(ChangePasswordDto, { newPassword: 'another passphrase' })).toEqual([
      'currentPassword is required',
    ]);
  });

  it('passes a valid body through, transformed', async () => {
    const valid = await validate(LoginDto, { email: ' Alice@Example.COM ', password: PASSWORD });
    expect(valid).toBeInstanceOf(LoginDto);
    expect(valid).toEqual({ email: 'alice@example.com', password: PASSWORD });
  });

  it('never repeats a value back', async () => {
    const secret = 'a-secret-value-that-is-far-too-long'.repeat(10);
    const messages = await validate(RegisterDto, { email: secret, password: secret });
    expect(JSON.stringify(messages)).not.toContain('a-secret-value');
  });
});
