import type { FastifyInstance } from 'fastify';

/** Deeper than any body this service accepts (its DTOs are flat), shallower than any stack limit. */
export const MAX_JSON_DEPTH = 16;

/**
 * How deeply arrays and objects nest in a JSON text, brackets inside strings not counted. One pass,
 * no parsing: run on the raw body (at most BODY_LIMIT bytes) before anything recursive sees it.
 */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return deepest;
}

/** A body Fastify's parser refused becomes a 400 with one of these messages (see the filter). */
class JsonBodyError extends Error {
  readonly statusCode = 400;
}

/**
 * Keys no body of this service has, which name the prototype machinery: refused outright, so
 * nothing downstream (class-transformer drops them silently) ever has to get them right.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

/** JSON.parse, refusing a forbidden key at any depth (escaped spellings included). */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new JsonBodyError(`Request body must not contain a "${key}" key`);
      }
      return value;
    });
  } catch (error) {
    if (error instanceof JsonBodyError) throw error;
    throw new JsonBodyError('Request body is not valid JSON');
  }
}

/**
 * The JSON parser for every request: an empty body is no body (routes without one accept it, the
 * others find every field missing); a body nesting deeper than MAX_JSON_DEPTH is refused before
 * parsing (validation copies bodies recursively, and 2,000 nested arrays would overflow its stack
 * and answer 500); a `__proto__` or `constructor` key is refused by name.
 */
export function useJsonBodyParser(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (_request, body, done) => {
      const text = body as string;
      if (text === '') {
        done(null, undefined);
        return;
      }
      if (jsonNestingDepth(text) > MAX_JSON_DEPTH) {
        done(
          new JsonBodyError(`Request body nests deeper than ${MAX_JSON_DEPTH} levels`),
          undefined,
        );
        return;
      }
      try {
        done(null, parseJsonBody(text));
      } catch (error) {
        done(error as JsonBodyError, undefined);
      }
    },
  );
}
