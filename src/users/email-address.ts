import { domainToASCII, domainToUnicode } from 'node:url';
import unhomoglyph from 'unhomoglyph';
import { caseFold, forbiddenCodePoint, mixedScripts } from './unicode';
import { EmailNotAcceptedError } from './user.errors';

/** Longer input is refused before any Unicode work (the stored maximum is 254). */
const MAX_INPUT_LENGTH = 1024;

/**
 * The one form an email is stored, looked up and counted under (register, login, rate limits,
 * account deletion):
 *
 * 1. trim; refuse whitespace inside and invisible or format characters (see `forbiddenCodePoint`);
 * 2. NFKC, full case folding, NFKC again (Unicode's NFKC_Casefold recipe): fullwidth, ligatures,
 *    ß/ss, ſ/s and the like become one form;
 * 3. the domain through UTS #46 (Node's `domainToASCII`, then back with `domainToUnicode`), so
 *    `xn--bcher-kva.de` and `bücher.de` are one domain, stored in Unicode; then folded again
 *    (punycode may decode to ß);
 * 4. refuse a local part or a domain label that mixes scripts (Latin with Cyrillic, say).
 *
 * Throws `EmailNotAcceptedError` with a message saying which rule failed. Idempotent: the result
 * normalises to itself. Addresses without `@` are normalised as a local part (login looks them up
 * and finds nothing); whether it is an email address at all is the DTO's check.
 */
export function normaliseEmail(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed.length > MAX_INPUT_LENGTH) throw new EmailNotAcceptedError('email is too long');
  refuseForbidden(trimmed);
  let email = fold(trimmed);
  const at = email.lastIndexOf('@');
  const local = at === -1 ? email : email.slice(0, at);
  if (at !== -1) {
    const domain = email.slice(at + 1);
    const ascii = domainToASCII(domain);
    if (ascii === '') throw new EmailNotAcceptedError('email domain is not a valid domain name');
    email = `${local}@${fold(domainToUnicode(ascii))}`;
  }
  refuseForbidden(email);
  refuseMixedScripts(local, 'email local part');
  if (at !== -1) {
    for (const label of email.slice(local.length + 1).split('.')) {
      refuseMixedScripts(label, 'email domain label');
    }
  }
  return email;
}

/** `normaliseEmail`, or null when the email is not acceptable. */
export function normaliseEmailOrNull(raw: string): string | null {
  try {
    return normaliseEmail(raw);
  } catch (error) {
    if (error instanceof EmailNotAcceptedError) return null;
    throw error;
  }
}

/** Why `normaliseEmail` refuses `raw`; null when it accepts it. */
export function emailProblem(raw: string): string | null {
  try {
    normaliseEmail(raw);
    return null;
  } catch (error) {
    if (error instanceof EmailNotAcceptedError) return error.message;
    throw error;
  }
}

/**
 * The confusable skeleton of a normalised email (UTS #39 `skeleton`: NFD, each character replaced
 * by its prototype from Unicode's confusables.txt through `unhomoglyph`, NFD again). Two emails
 * with one skeleton look alike (`ѕсоре` in Cyrillic and `scope`, `rn` and `m`); the skeleton is
 * only ever compared, never shown.
 */
export function emailSkeleton(normalisedEmail: string): string {
  return unhomoglyph(normalisedEmail.normalize('NFD')).normalize('NFD');
}

const fold = (text: string): string => caseFold(text.normalize('NFKC')).normalize('NFKC');

function refuseForbidden(text: string): void {
  const found = forbiddenCodePoint(text);
  if (found === null) return;
  throw new EmailNotAcceptedError(
    found.kind === 'whitespace'
      ? `email must not contain whitespace (found ${found.codePoint})`
      : `email must not contain invisible, format, control or unassigned characters (found ${found.codePoint})`,
  );
}

function refuseMixedScripts(text: string, what: string): void {
  const mixed = mixedScripts(text);
  if (mixed === null) return;
  throw new EmailNotAcceptedError(
    `${what} mixes scripts (${mixed[0]} and ${mixed[1]}); use one script per part`,
  );
}
