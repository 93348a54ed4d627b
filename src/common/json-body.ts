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

class TooDeeplyNestedError extends Error {
  readonly statusCode = 400;
  constructor() {
    super(`Request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
}

/**
 * Fastify's own JSON parser (prototype poisoning refused) behind a nesting limit: validation copies
 * bodies recursively, and 2,000 nested arrays would overflow its stack and answer 500.
 */
export function useDepthLimitedJsonParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonNestingDepth(body as string) > MAX_JSON_DEPTH) {
      done(new TooDeeplyNestedError(), undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
