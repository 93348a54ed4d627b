import { jsonNestingDepth, MAX_JSON_DEPTH, parseJsonBody } from './json-body';

describe('jsonNestingDepth', () => {
  it.each([
    ['a scalar', '42', 0],
    ['an empty object', '{}', 1],
    ['a flat object', '{"email":"a@b.c","password":"x"}', 1],
    ['nested arrays and objects', '{"a":[{"b":[1]}]}', 4],
    ['brackets inside strings', '{"password":"[[[[{{{{"}', 1],
    ['escaped quotes inside strings', '{"p":"\\"[[[[\\""}', 1],
    ['an escaped backslash before the closing quote', '{"p":"\\\\","q":[[1]]}', 3],
    ['2,000 nested arrays', `${'['.repeat(2000)}${']'.repeat(2000)}`, 2000],
    ['unbalanced text', '[[[', 3],
  ])('measures %s', (_, text, depth) => {
    expect(jsonNestingDepth(text)).toBe(depth);
  });

  it('allows more nesting than any DTO needs', () => {
    expect(MAX_JSON_DEPTH).toBeGreaterThanOrEqual(4);
  });
});

describe('parseJsonBody', () => {
  it('parses JSON', () => {
    expect(parseJsonBody('{"email":"a@b.c","tags":[{"x":1}]}')).toEqual({
      email: 'a@b.c',
      tags: [{ x: 1 }],
    });
  });

  it.each([
    ['a __proto__ key', '{"__proto__":{"polluted":true}}', '__proto__'],
    ['an escaped __proto__ key', '{"\\u005f_proto__":{}}', '__proto__'],
    ['a constructor key', '{"constructor":5}', 'constructor'],
    ['a key inside an array', '{"list":[{"constructor":{"prototype":{}}}]}', 'constructor'],
  ])('refuses %s by name', (_, text, key) => {
    expect(() => parseJsonBody(text)).toThrow(`Request body must not contain a "${key}" key`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each(['{"email":', '{"a":1}xyz', "{'a':1}", ''])('calls %p not valid JSON', (text) => {
    expect(() => parseJsonBody(text)).toThrow('Request body is not valid JSON');
  });

  it('allows the words as values', () => {
    expect(parseJsonBody('{"displayName":"constructor __proto__"}')).toEqual({
      displayName: 'constructor __proto__',
    });
  });
});
