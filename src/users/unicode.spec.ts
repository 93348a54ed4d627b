import { caseFold, forbiddenCodePoint, mixedScripts, SCRIPTS } from './unicode';

describe('caseFold (full case folding, CaseFolding.txt C+F)', () => {
  it.each([
    ['ASCII', 'Alice@Example.COM', 'alice@example.com'],
    ['ß (lowercase already; folds to ss)', 'straße', 'strasse'],
    ['ẞ capital sharp s', 'STRAẞE', 'strasse'],
    ['the ﬁ ligature', 'ﬁle', 'file'],
    ['final sigma', 'ΣΊΣΥΦΟΣ', 'σίσυφοσ'],
    ['İ (dotted capital I) to i + U+0307', 'İ', 'i\u0307'],
    ['Greek capital with prosgegrammeni', 'ᾼ', 'αι'],
    ['ϑ theta symbol', 'ϑ', 'θ'],
    ['K Kelvin sign', '\u212A', 'k'],
    ['ſ long s', 'ſ', 's'],
    ['µ micro sign', 'µ', 'μ'],
    ['Deseret (astral)', '𐐀𐐁', '𐐨𐐩'],
    ['Cherokee small letters to capitals', 'ꮳꮃꭹ', 'ᏣᎳᎩ'],
    ['Cherokee capitals unchanged', 'ᏣᎳᎩ', 'ᏣᎳᎩ'],
    ['ı dotless i unchanged', 'ı', 'ı'],
    ['non-letters unchanged', '0123-_.+🙂', '0123-_.+🙂'],
  ])('%s', (_, input, folded) => {
    expect(caseFold(input)).toBe(folded);
  });

  it('differs from toLowerCase where folding is more than lowercasing', () => {
    for (const input of ['straße', 'ﬁle', 'ς', 'ᾼ', 'ꮳ']) {
      expect(caseFold(input)).not.toBe(input.toLowerCase());
    }
  });

  it('is idempotent, and a lowercased code point folds as the original does', () => {
    const broken: string[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      const folded = caseFold(c);
      if (caseFold(folded) !== folded || caseFold(c.toLowerCase()) !== folded) {
        broken.push(cp.toString(16));
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('forbiddenCodePoint', () => {
  it.each([
    ['U+200B zero width space (Cf)', 'a\u200Bb', 'U+200B', 'invisible'],
    ['U+202E right-to-left override (Cf)', 'a\u202Eb', 'U+202E', 'invisible'],
    ['U+00AD soft hyphen (Cf)', 'a\u00ADb', 'U+00AD', 'invisible'],
    ['U+200D zero width joiner (Cf)', 'a\u200Db', 'U+200D', 'invisible'],
    ['U+3164 Hangul filler (Default_Ignorable, a letter)', 'a\u3164b', 'U+3164', 'invisible'],
    ['U+FE0F variation selector (Default_Ignorable, a mark)', 'a\uFE0Fb', 'U+FE0F', 'invisible'],
    ['U+0000 (Cc)', 'a\u0000b', 'U+0000', 'invisible'],
    ['U+007F (Cc)', 'a\u007Fb', 'U+007F', 'invisible'],
    ['U+E000 private use (Co)', 'a\uE000b', 'U+E000', 'invisible'],
    ['U+0378 unassigned (Cn)', 'a\u0378b', 'U+0378', 'invisible'],
    ['a lone surrogate (Cs)', 'a\uD800b', 'U+D800', 'invisible'],
    ['U+E0041 tag letter (Cf, astral)', 'a\u{E0041}b', 'U+E0041', 'invisible'],
    ['a space', 'a b', 'U+0020', 'whitespace'],
    ['a tab', 'a\tb', 'U+0009', 'whitespace'],
    ['U+00A0 no-break space', 'a\u00A0b', 'U+00A0', 'whitespace'],
    ['U+3000 ideographic space', 'a\u3000b', 'U+3000', 'whitespace'],
    ['U+2028 line separator (Zl)', 'a\u2028b', 'U+2028', 'whitespace'],
    ['U+2029 paragraph separator (Zp)', 'a\u2029b', 'U+2029', 'whitespace'],
  ])('finds %s', (_, text, codePoint, kind) => {
    expect(forbiddenCodePoint(text)).toEqual({ codePoint, kind });
  });

  it.each([
    ['ASCII', 'alice+tag@example.com'],
    ['accents', 'zoë.ørsted@bücher.de'],
    ['CJK and kana', '日本語ひらがな'],
    ['combining marks', 'e\u0301'],
    ['emoji', '🙂'],
  ])('accepts %s', (_, text) => {
    expect(forbiddenCodePoint(text)).toBeNull();
  });
});

describe('mixedScripts', () => {
  it.each([
    ['Latin', 'paypal'],
    ['Cyrillic', 'раура'],
    ['Greek', 'ελληνικά'],
    ['Latin with digits and punctuation', 'j.doe-99_x+y'],
    ['Cyrillic with digits and punctuation', 'иван.петров-1'],
    ['Latin with combining marks', 'e\u0301e\u0308'],
    ['Japanese: Han, hiragana, katakana, the prolonged sound mark', '日本語ひらがなカタカナー'],
    ['Korean: Hangul with Han', '한국어漢字'],
    ['Chinese with Bopomofo', '中文ㄅㄆ'],
    ['Arabic', 'مرحبا'],
    ['nothing but digits', '12345'],
  ])('accepts one script: %s', (_, text) => {
    expect(mixedScripts(text)).toBeNull();
  });

  it.each([
    ['Latin with Cyrillic (раураl)', 'раураl', ['Cyrillic', 'Latin']],
    ['Cyrillic with Latin (paypаl)', 'paypаl', ['Latin', 'Cyrillic']],
    ['Latin with Greek', 'αb', ['Greek', 'Latin']],
    ['Latin with Han', 'abc日本', ['Latin', 'Han']],
    ['Hangul with kana', '한ひ', ['Hangul', 'Hiragana']],
  ])('finds %s', (_, text, scripts) => {
    expect(mixedScripts(text)).toEqual(scripts);
  });

  it('knows every script of this engine: each assigned letter belongs to one of them', () => {
    const neutral =
      /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}\p{Cn}\p{Cs}\p{Co}]$/u;
    const known = new RegExp(
      `^[${SCRIPTS.map(({ name }) => `\\p{Script_Extensions=${name}}`).join('')}]$`,
      'u',
    );
    const missing: string[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      const c = String.fromCodePoint(cp);
      if (!neutral.test(c) && !known.test(c)) missing.push(cp.toString(16));
    }
    expect(missing).toEqual([]);
  });
});
