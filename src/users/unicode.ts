/*
 * Unicode properties the email rules need, read from the JavaScript engine's own Unicode data
 * (regular-expression property escapes and the Default Case Conversion of toLowerCase and
 * toUpperCase). The one table here, the script names, is checked against the engine by
 * `unicode.spec.ts`.
 */

/**
 * Full case folding (Unicode Standard §3.13, CaseFolding.txt statuses C and F) of one code point.
 *
 * JavaScript has no case-folding function; `toLowerCase` alone is not one (ß stays ß, ς stays ς,
 * ᾼ becomes ᾳ where folding gives αι). CaseFolding.txt is derived from the default case mappings
 * the engine implements (UnicodeData.txt plus SpecialCasing.txt), and per code point, without the
 * Final_Sigma context, lower(upper(lower(c))) reproduces it (ß → ss, ẞ → ss, ﬁ → fi, ς → σ,
 * İ → i̇, ᾼ → αι, ϑ → θ, K (Kelvin) → k) except in two places folding deliberately keeps apart:
 * U+0131 ı folds to itself (only the Turkic "T" mapping, not used here, relates it to I), and
 * Cherokee folds to its capital letters (they came first in Unicode). Checked exhaustively against
 * Python's `str.casefold` (Unicode 14) for every code point assigned there; `unicode.spec.ts`
 * pins the cases that differ from lowercasing.
 */
function foldCodePoint(c: string): string {
  if (c === '\u0131') return c;
  if (CHEROKEE.test(c)) return c.toUpperCase();
  return c.toLowerCase().toUpperCase().toLowerCase();
}

const CHEROKEE = /^\p{Script=Cherokee}$/u;
const ASCII = /^\p{ASCII}*$/u;

/** Full case folding of a string, code point by code point (no context rules apply to folding). */
export function caseFold(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  let folded = '';
  for (const c of text) folded += foldCodePoint(c);
  return folded;
}

/**
 * Code points no visible identifier needs, each a way to make two addresses look alike: controls
 * (Cc), format characters such as U+200B ZERO WIDTH SPACE or U+202E RIGHT-TO-LEFT OVERRIDE (Cf),
 * private use (Co), unassigned code points (Cn), lone surrogates (Cs), Default_Ignorable_Code_Point
 * (also U+3164 HANGUL FILLER and variation selectors, which are not Cf), line and paragraph
 * separators (Zl, Zp) and any whitespace.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;
const WHITESPACE = /[\p{White_Space}\p{Zs}]/u;

/** The first refused code point of `text` and what kind it is; null when there is none. */
export function forbiddenCodePoint(
  text: string,
): { readonly codePoint: string; readonly kind: 'whitespace' | 'invisible' } | null {
  for (const c of text) {
    if (WHITESPACE.test(c)) return { codePoint: codePointLabel(c), kind: 'whitespace' };
    if (INVISIBLE.test(c)) return { codePoint: codePointLabel(c), kind: 'invisible' };
  }
  return null;
}

/** `U+200B`: how a code point is named in messages. */
export const codePointLabel = (c: string): string =>
  `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Every Unicode script but Common, Inherited and Unknown (Script property value names, Unicode 17).
 * Names the engine does not know are skipped: their letters are unassigned there (and refused).
 */
const SCRIPT_NAMES = [
  'Adlam', 'Ahom', 'Anatolian_Hieroglyphs', 'Arabic', 'Armenian', 'Avestan', 'Balinese', 'Bamum',
  'Bassa_Vah', 'Batak', 'Bengali', 'Beria_Erfe', 'Bhaiksuki', 'Bopomofo', 'Brahmi', 'Braille',
  'Buginese', 'Buhid', 'Canadian_Aboriginal', 'Carian', 'Caucasian_Albanian', 'Chakma', 'Cham',
  'Cherokee', 'Chorasmian', 'Coptic', 'Cuneiform', 'Cypriot', 'Cypro_Minoan', 'Cyrillic',
  'Deseret', 'Devanagari', 'Dives_Akuru', 'Dogra', 'Duployan', 'Egyptian_Hieroglyphs', 'Elbasan',
  'Elymaic', 'Ethiopic', 'Garay', 'Georgian', 'Glagolitic', 'Gothic', 'Grantha', 'Greek',
  'Gujarati', 'Gunjala_Gondi', 'Gurmukhi', 'Gurung_Khema', 'Han', 'Hangul', 'Hanifi_Rohingya',
  'Hanunoo', 'Hatran', 'Hebrew', 'Hiragana', 'Imperial_Aramaic', 'Inscriptional_Pahlavi',
  'Inscriptional_Parthian', 'Javanese', 'Kaithi', 'Kannada', 'Katakana', 'Kawi', 'Kayah_Li',
  'Kharoshthi', 'Khitan_Small_Script', 'Khmer', 'Khojki', 'Khudawadi', 'Kirat_Rai', 'Lao', 'Latin',
  'Lepcha', 'Limbu', 'Linear_A', 'Linear_B', 'Lisu', 'Lycian', 'Lydian', 'Mahajani', 'Makasar',
  'Malayalam', 'Mandaic', 'Manichaean', 'Marchen', 'Masaram_Gondi', 'Medefaidrin', 'Meetei_Mayek',
  'Mende_Kikakui', 'Meroitic_Cursive', 'Meroitic_Hieroglyphs', 'Miao', 'Modi', 'Mongolian', 'Mro',
  'Multani', 'Myanmar', 'Nabataean', 'Nag_Mundari', 'Nandinagari', 'New_Tai_Lue', 'Newa', 'Nko',
  'Nushu', 'Nyiakeng_Puachue_Hmong', 'Ogham', 'Ol_Chiki', 'Ol_Onal', 'Old_Hungarian', 'Old_Italic',
  'Old_North_Arabian', 'Old_Permic', 'Old_Persian', 'Old_Sogdian', 'Old_South_Arabian',
  'Old_Turkic', 'Old_Uyghur', 'Oriya', 'Osage', 'Osmanya', 'Pahawh_Hmong', 'Palmyrene',
  'Pau_Cin_Hau', 'Phags_Pa', 'Phoenician', 'Psalter_Pahlavi', 'Rejang', 'Runic', 'Samaritan',
  'Saurashtra', 'Sharada', 'Shavian', 'Siddham', 'Sidetic', 'SignWriting', 'Sinhala', 'Sogdian',
  'Sora_Sompeng', 'Soyombo', 'Sundanese', 'Sunuwar', 'Syloti_Nagri', 'Syriac', 'Tagalog',
  'Tagbanwa', 'Tai_Le', 'Tai_Tham', 'Tai_Viet', 'Tai_Yo', 'Takri', 'Tamil', 'Tangsa', 'Tangut',
  'Telugu', 'Thaana', 'Thai', 'Tibetan', 'Tifinagh', 'Tirhuta', 'Todhri', 'Tolong_Siki', 'Toto',
  'Tulu_Tigalari', 'Ugaritic', 'Vai', 'Vithkuqi', 'Wancho', 'Warang_Citi', 'Yezidi', 'Yi',
  'Zanabazar_Square',
]; // prettier-ignore

/** Each known script with a test for "this code point's Script_Extensions contain it". */
export const SCRIPTS: ReadonlyArray<{ readonly name: string; readonly pattern: RegExp }> =
  SCRIPT_NAMES.flatMap((name) => {
    try {
      return [{ name, pattern: new RegExp(`^\\p{Script_Extensions=${name}}$`, 'u') }];
    } catch {
      return [];
    }
  });

/** Code points that belong to every script alike (digits, punctuation, combining marks). */
const SCRIPT_NEUTRAL = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;
const ASCII_LETTER = /^[A-Za-z]$/;

/**
 * UTS #39 §5.1 augmented script sets: the writing systems that mix scripts by design (Japanese:
 * Han with kana; Korean: Han with Hangul; Chinese with Bopomofo) get a shared name, so mixing
 * within one of them is not "mixing scripts".
 */
const AUGMENT: Readonly<Record<string, readonly string[]>> = {
  Han: ['Han', 'Han with Bopomofo', 'Japanese', 'Korean'],
  Hiragana: ['Hiragana', 'Japanese'],
  Katakana: ['Katakana', 'Japanese'],
  Hangul: ['Hangul', 'Korean'],
  Bopomofo: ['Bopomofo', 'Han with Bopomofo'],
};

/** The scripts a code point may be written in (augmented); empty when it suits any script. */
function scriptsOf(c: string): readonly string[] {
  if (ASCII_LETTER.test(c)) return ['Latin'];
  if (SCRIPT_NEUTRAL.test(c)) return [];
  return SCRIPTS.filter(({ pattern }) => pattern.test(c)).flatMap(
    ({ name }) => AUGMENT[name] ?? [name],
  );
}

const PATTERNS = new Map(SCRIPTS.map(({ name, pattern }) => [name, pattern]));
/** The scripts an augmented set stands for. */
const MEMBERS: Readonly<Record<string, readonly string[]>> = {
  'Han with Bopomofo': ['Han', 'Bopomofo'],
  Japanese: ['Han', 'Hiragana', 'Katakana'],
  Korean: ['Han', 'Hangul'],
};

/** Whether `c` may be written in `script` (a script or an augmented set). */
const writtenIn = (c: string, script: string): boolean =>
  (MEMBERS[script] ?? [script]).some((member) => PATTERNS.get(member)?.test(c) ?? false);

/**
 * Two scripts that `text` mixes (UTS #39 "single script" test over Script_Extensions, with the
 * augmented sets above), or null when one script could have written all of it. Only the first
 * letter is looked up among all scripts; the rest are tested against what is still possible.
 */
export function mixedScripts(text: string): readonly [string, string] | null {
  if (ASCII.test(text)) return null;
  let possible: readonly string[] | null = null;
  let first = '';
  for (const c of text) {
    if (!ASCII_LETTER.test(c) && SCRIPT_NEUTRAL.test(c)) continue;
    if (possible === null) {
      const scripts = scriptsOf(c);
      if (scripts.length === 0) continue;
      possible = scripts;
      first = scripts[0];
      continue;
    }
    const remaining: readonly string[] = possible.filter((script) => writtenIn(c, script));
    if (remaining.length === 0) return [first, scriptsOf(c)[0] ?? 'Unknown'];
    possible = remaining;
  }
  return null;
}
