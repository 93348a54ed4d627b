import { Body, Query, Type } from '@nestjs/common';
import { ApiBody } from '@nestjs/swagger';
import { BodyValidationPipe } from './body-validation.pipe';

/** Where TypeScript records a method's parameter types, and Nest reads them for its pipes. */
const PARAMTYPES_METADATA = 'design:paramtypes';

/**
 * The request body, validated against `dto` by the library's own pipe alone. A host app's global
 * pipes run before a route's own, and a global `ValidationPipe` validates every parameter whose
 * type is a class, with the host's options: its own messages, fields stripped instead of refused,
 * its own status. So the parameter's type is recorded as a plain object, which `ValidationPipe`
 * passes through untouched, and `dto` goes to our pipe and to the OpenAPI document.
 */
export function ValidatedBody(dto: Type): ParameterDecorator {
  return (target, key, index) => {
    hideFromHostPipes(target, key, index, '@ValidatedBody()');
    Body(new BodyValidationPipe(dto))(target, key, index);
    const method = Object.getOwnPropertyDescriptor(target, key);
    if (method === undefined) throw new Error(`@ValidatedBody(): no method ${String(key)}`);
    ApiBody({ type: dto })(target, key, method);
  };
}

/**
 * The query string, validated against `dto` by the library's own pipe alone (as `ValidatedBody`
 * does for bodies); the route documents its query parameters itself (`ApiQuery`).
 */
export function ValidatedQuery(dto: Type): ParameterDecorator {
  return (target, key, index) => {
    hideFromHostPipes(target, key, index, '@ValidatedQuery()');
    Query(new BodyValidationPipe(dto))(target, key, index);
  };
}

/** Records the parameter's type as a plain object, which a host's `ValidationPipe` passes through. */
function hideFromHostPipes(
  target: object,
  key: string | symbol | undefined,
  index: number,
  decorator: string,
): asserts key is string | symbol {
  if (key === undefined) throw new Error(`${decorator} is for a route handler parameter`);
  const types = [...((Reflect.getMetadata(PARAMTYPES_METADATA, target, key) as unknown[]) ?? [])];
  types[index] = Object;
  Reflect.defineMetadata(PARAMTYPES_METADATA, types, target, key);
}
