import {
  ArgumentMetadata,
  BadRequestException,
  Type,
  ValidationError,
  ValidationPipe,
} from '@nestjs/common';

/** Constraints on a value's type: when one fails, the value's other constraints add nothing. */
const TYPE_CONSTRAINTS = new Set([
  'isString',
  'isNumber',
  'isInt',
  'isBoolean',
  'isArray',
  'isObject',
  'isDate',
]);

/**
 * The messages for a failed validation, one problem each, as a client can act on them: a field
 * left out "is required" (not every constraint it would have had to meet), a value of the wrong
 * type says the type it must be, and any other value every constraint it fails. Values are never
 * repeated back: they may be passwords.
 */
export function validationMessages(errors: readonly ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const constraints = error.constraints ?? {};
    const failed = Object.keys(constraints);
    const type = failed.find((name) => TYPE_CONSTRAINTS.has(name));
    let messages: string[];
    if (failed.length === 0) messages = [];
    else if (constraints.whitelistValidation) messages = [constraints.whitelistValidation];
    else if (error.value === undefined) messages = [`${path} is required`];
    else if (type) messages = [constraints[type]];
    else messages = failed.map((name) => constraints[name]);
    const prefix = parent ? `${parent}.` : '';
    return [
      ...messages.map((message) => (message.startsWith(path) ? message : prefix + message)),
      ...validationMessages(error.children ?? [], path),
    ];
  });
}

/**
 * Validates request bodies against their DTO: unknown fields refused, values transformed, every
 * problem listed (see `validationMessages`). A JSON body that is not an object (an array, a
 * string, `null`) is refused as such; an empty body is an object with every field missing.
 * With `dto`, a body is validated against it whatever type its parameter declares (see
 * `ValidatedBody`); without, against the parameter's type.
 */
export class BodyValidationPipe extends ValidationPipe {
  constructor(private readonly dto?: Type) {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
      // The values tell a missing field from a wrong one; `validationMessages` never sends them.
      validationError: { target: false, value: true },
      exceptionFactory: (errors) => new BadRequestException(validationMessages(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (
      metadata.type === 'body' &&
      value !== undefined &&
      (typeof value !== 'object' || value === null || Array.isArray(value))
    ) {
      throw new BadRequestException('Request body must be a JSON object');
    }
    const validated = metadata.type === 'body' || metadata.type === 'query';
    const metatype = validated && this.dto ? this.dto : metadata.metatype;
    const dropped = validated ? droppedKeys(value, metatype) : [];
    if (dropped.length === 0) return super.transform(value, { ...metadata, metatype });
    // Refused here, with whatever else the rest of the value gets wrong: left to the parent, the
    // request would go on without them (see `droppedKeys`).
    const unknown = dropped.map((key) => `property ${key} should not exist`);
    const rest = Object.fromEntries(
      Object.entries(value as object).filter(([key]) => !dropped.includes(key)),
    );
    try {
      await super.transform(rest, { ...metadata, metatype });
    } catch (error) {
      if (!(error instanceof BadRequestException)) throw error;
      const { message } = error.getResponse() as { message: string | string[] };
      throw new BadRequestException([...unknown, ...[message].flat()]);
    }
    throw new BadRequestException(unknown);
  }
}

/**
 * The fields of an object value that never reach the whitelist: Nest's `ValidationPipe` deletes
 * `__proto__`, `prototype` and `constructor`, and class-transformer does not copy a field named
 * like a member of the DTO's prototype (every object's `toString`, `hasOwnProperty`, …).
 */
function droppedKeys(value: unknown, metatype: Type | undefined): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const prototype = (metatype?.prototype as object | undefined) ?? Object.prototype;
  return Object.keys(value).filter((key) => key === 'prototype' || key in prototype);
}
