import fc from 'fast-check';
import { emailProblem, emailSkeleton, normaliseEmail, normaliseEmailOrNull } from './email-address';
import { EmailNotAcceptedError } from './user.errors';

describe('normaliseEmail', () => {
  it.each([
    ['trims and lower-cases', '  Bob@Example.COM ', 'bob@example.com'],
    ['fullwidth (NFKC)', 'ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ', 'alice@example.com'],
    ['ß to ss (full case folding)', 'Straße@example.com', 'strasse@example.com'],
    ['ẞ to ss', 'STRAẞE@example.com', 'strasse@example.com'],
    ['the ﬁ ligature', 'ﬁsh@example.com', 'fish@example.com'],
    ['ſ long s', 'ſam@example.com', 'sam@example.com'],
    ['decomposed accents composed (NFKC)', 'zoe\u0308@example.com', 'zoë@example.com'],
    ['a punycode domain to Unicode', 'a@XN--BCHER-KVA.de', 'a@bücher.de'],
    ['a Unicode domain folded', 'a@BÜCHER.DE', 'a@bücher.de'],
    ['punycode that decodes to ß, folded', 'a@xn--strae-oqa.de', 'a@strasse.de'],
    ['Cyrillic, one script per part', 'Иван@Пример.РФ', 'иван@пример.рф'],
    ['Cyrillic local part, Latin domain', 'иван@example.com', 'иван@example.com'],
    ['Japanese local part', '日本語ひらがな@example.jp', '日本語ひらがな@example.jp'],
    ['no @ at all (a local part only)', 'Not-An-Email', 'not-an-email'],
  ])('%s', (_, raw, normalised) => {
    expect(normaliseEmail(raw)).toBe(normalised);
  });

  it.each([
    [
      'U+200B zero width space',
      'ali\u200Bce@example.com',
      'invisible, format, control or unassigned characters (found U+200B)',
    ],
    ['U+202E right-to-left override', 'moc.elpmaxe@\u202Eecila', '(found U+202E)'],
    ['U+00AD soft hyphen', 'al\u00ADice@example.com', '(found U+00AD)'],
    ['U+2060 word joiner in the domain', 'alice@exa\u2060mple.com', '(found U+2060)'],
    ['a space inside', 'ali ce@example.com', 'email must not contain whitespace (found U+0020)'],
    ['U+00A0 inside', 'ali\u00A0ce@example.com', 'whitespace (found U+00A0)'],
    ['U+2028 line separator', 'alice\u2028@example.com', 'whitespace (found U+2028)'],
    ['a control character', 'alice\u0007@example.com', '(found U+0007)'],
    [
      'Latin with Cyrillic in the local part',
      'раураl@example.com',
      'email local part mixes scripts (Cyrillic and Latin)',
    ],
    [
      'Latin with Cyrillic in a domain label',
      'alice@exаmple.com',
      'email domain label mixes scripts (Latin and Cyrillic)',
    ],
    ['an IP literal domain', 'alice@[127.0.0.1]', 'email domain is not a valid domain name'],
    ['broken punycode', 'alice@xn--zz.com', 'email domain is not a valid domain name'],
  ])('refuses %s, saying why', (_, raw, message) => {
    expect(() => normaliseEmail(raw)).toThrow(EmailNotAcceptedError);
    expect(emailProblem(raw)).toContain(message);
    expect(normaliseEmailOrNull(raw)).toBeNull();
  });

  it('accepts a label per script: a Cyrillic local part and a Latin domain', () => {
    expect(emailProblem('иван@example.com')).toBeNull();
  });

  it('refuses a huge input before any Unicode work', () => {
    expect(emailProblem(`${'a'.repeat(2000)}@example.com`)).toBe('email is too long');
  });

  it('is idempotent: whatever it accepts normalises to itself', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 12 }),
        fc.string({ unit: 'binary', maxLength: 12 }),
        (local, domain) => {
          const normalised = normaliseEmailOrNull(`${local}@${domain}`);
          if (normalised !== null) expect(normaliseEmail(normalised)).toBe(normalised);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('is idempotent over characters that normalisation changes', () => {
    // Case pairs, compatibility forms, ligatures, combining marks, final sigma, dotted I, kana.
    const tricky = [
      ...'aZß ẞﬁﬃſµKΩÅİıΣσςᾼᾳǅǰŉΐ\u0301\u0308\u0345ｱｶﾞＡｚ①㎏ⅨÉéꮳᏣ-._+0'.replace(' ', ''),
    ];
    const part = fc.string({ unit: fc.constantFrom(...tricky), minLength: 1, maxLength: 10 });
    fc.assert(
      fc.property(part, part, (local, label) => {
        const normalised = normaliseEmailOrNull(`${local}@${label}.com`);
        if (normalised !== null) expect(normaliseEmail(normalised)).toBe(normalised);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('emailSkeleton', () => {
  it.each([
    ['Cyrillic ѕсоре and Latin scope', 'ѕсоре@example.com', 'scope@example.com'],
    ['Cyrillic раура and Latin paypa', 'раура@example.com', 'paypa@example.com'],
    ['rn and m', 'rnodern@example.com', 'modern@example.com'],
    ['1 and l', 'a1ice@example.com', 'alice@example.com'],
  ])('gives lookalikes one skeleton: %s', (_, a, b) => {
    expect(emailSkeleton(normaliseEmail(a))).toBe(emailSkeleton(normaliseEmail(b)));
  });

  it('keeps different-looking emails apart', () => {
    expect(emailSkeleton('alice@example.com')).not.toBe(emailSkeleton('alicia@example.com'));
    expect(emailSkeleton('bücher@example.com')).not.toBe(emailSkeleton('bucher@example.com'));
  });
});
