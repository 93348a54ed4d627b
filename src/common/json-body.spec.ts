import { jsonNestingDepth, MAX_JSON_DEPTH } from './json-body';

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
