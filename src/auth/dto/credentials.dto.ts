import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsEmail,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateBy,
} from 'class-validator';
import type {
  ChangePasswordRequest,
  DeleteAccountRequest,
  LoginRequest,
  RegisterRequest,
} from '../../http/contract';
import { emailProblem, normaliseEmailOrNull } from '../../users/email-address';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/**
 * The email in its normalised form (`normaliseEmail`) before anything checks it; one the email
 * rules refuse stays as sent (trimmed), for `AcceptableEmail` to say why.
 */
const NormalisedEmail = () =>
  Transform(({ value }) =>
    typeof value === 'string' ? (normaliseEmailOrNull(value) ?? value.trim()) : value,
  );

/** Fails with the email rule the value breaks (invisible characters, mixed scripts, …). */
const AcceptableEmail = () =>
  ValidateBy({
    name: 'acceptableEmail',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || emailProblem(value) === null,
      defaultMessage: (args) =>
        (typeof args?.value === 'string' ? emailProblem(args.value) : null) ??
        'email is not acceptable',
    },
  });

export class RegisterDto implements RegisterRequest {
  /**
   * Normalised before it is checked or stored: NFKC, full case folding, IDN domains in Unicode
   * form. Refused: whitespace, invisible or format characters, a local part or domain label that
   * mixes scripts; one that looks like a registered email is taken (409).
   */
  @ApiProperty({ format: 'email', maxLength: 254, example: 'alice@example.com' })
  @NormalisedEmail()
  @IsString()
  @MaxLength(254)
  @IsEmail({}, { message: 'email must be an email address' })
  @AcceptableEmail()
  email!: string;

  /** 8 to 128 characters; hashed whole (never truncated). */
  @ApiProperty({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    format: 'password',
  })
  @IsString()
  @MinLength(PASSWORD_MIN_LENGTH)
  @MaxLength(PASSWORD_MAX_LENGTH)
  password!: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: 100, example: 'Alice' })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  // Control characters have no place in a name, and PostgreSQL cannot store NUL at all.
  @Matches(/^\P{Cc}*$/u, { message: 'displayName must not contain control characters' })
  displayName?: string;
}

export class LoginDto implements LoginRequest {
  /** Normalised as at registration, so `ＡＬＩＣＥ@example.com` is alice@example.com. */
  @ApiProperty({ maxLength: 254, example: 'alice@example.com' })
  @NormalisedEmail()
  @IsString()
  @MaxLength(254)
  @AcceptableEmail()
  email!: string;

  @ApiProperty({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsString()
  @MinLength(1)
  @MaxLength(PASSWORD_MAX_LENGTH)
  password!: string;
}

export class ChangePasswordDto implements ChangePasswordRequest {
  @ApiProperty({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsString()
  @MinLength(1)
  @MaxLength(PASSWORD_MAX_LENGTH)
  currentPassword!: string;

  @ApiProperty({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    format: 'password',
  })
  @IsString()
  @MinLength(PASSWORD_MIN_LENGTH)
  @MaxLength(PASSWORD_MAX_LENGTH)
  newPassword!: string;
}

export class DeleteAccountDto implements DeleteAccountRequest {
  /** The current password, asked again: a stolen session alone cannot delete the account. */
  @ApiProperty({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsString()
  @MinLength(1)
  @MaxLength(PASSWORD_MAX_LENGTH)
  password!: string;
}
