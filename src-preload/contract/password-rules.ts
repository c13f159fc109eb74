/**
 * The shape rules of a new password (NIST SP 800-63B §5.1.1.2): long enough, not the account
 * name or a derivative of it, not one character or a short unit over and over, not a run of
 * sequential or keyboard-adjacent characters. No composition rules (no "one digit, one
 * symbol"): length and the list of common passwords, which only the console holds
 * (src-main/auth/common-passwords.ts), are what NIST asks for. Shared so the setup form says
 * the same thing as the console and the CLI as the person types; the console checks again.
 */

export const MIN_PASSWORD_LENGTH = 10;
/** Longer input gains nothing and costs memory to carry around. */
export const MAX_PASSWORD_BYTES = 1024;

/** Why a password is refused, as a code (for tests and forms) and words. */
export type PasswordRuleCode = 'too-short' | 'too-long' | 'spaces' | 'account-name' | 'repetitive' | 'sequential' | 'common';

export interface PasswordRefusal {
  code: PasswordRuleCode;
  message: string;
}

/** Rows a keyboard walk follows ("qwertyuiop", "asdfgh"), German and French layouts included. */
const KEYBOARD_ROWS = ['1234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', 'qwertzuiop', 'yxcvbnm', 'azertyuiop', 'qsdfghjklm', 'wxcvbn'];

/** Letters and digits only, lowercase, compatibility-normalised: "Anna_2024!" → "anna2024". */
function core(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '');
}

/** The password is the name, the name reversed, or the name with only digits and symbols around it. */
function derivesFromName(password: string, name: string): boolean {
  const n = core(name);
  if (n.length < 2) return false;
  const p = core(password);
  if (p === n || p === [...n].reverse().join('')) return true;
  const rest = p.startsWith(n) ? p.slice(n.length) : p.endsWith(n) ? p.slice(0, p.length - n.length) : null;
  return rest !== null && /^\p{N}*$/u.test(rest);
}

/** One unit repeated ("aaaaaaaaaa", "abcabcabcabc"), or fewer than four different characters. */
function isRepetitive(password: string): boolean {
  const chars = [...password.toLowerCase()];
  if (new Set(chars).size < 4) return true;
  for (let unit = 1; unit <= chars.length / 2; unit++) {
    if (chars.length % unit !== 0) continue;
    let same = true;
    for (let i = unit; i < chars.length && same; i++) same = chars[i] === chars[i % unit];
    if (same) return true;
  }
  return false;
}

/** Characters at `i` and `i + 1` are neighbours: next or previous code point, or next to each other on a keyboard row. */
function adjacent(a: string, b: string): boolean {
  const d = (b.codePointAt(0) ?? 0) - (a.codePointAt(0) ?? 0);
  if (d === 1 || d === -1) return true;
  return KEYBOARD_ROWS.some((row) => {
    const i = row.indexOf(a);
    return i >= 0 && (row[i + 1] === b || (i > 0 && row[i - 1] === b));
  });
}

/** Every character lies in a run of at least three neighbours ("abcdefghij", "1234abcd", "qwertyuiop"). */
function isSequential(password: string): boolean {
  const chars = [...password.toLowerCase()];
  const inRun = new Array<boolean>(chars.length).fill(false);
  let start = 0;
  for (let i = 1; i <= chars.length; i++) {
    if (i < chars.length && adjacent(chars[i - 1]!, chars[i]!)) continue;
    if (i - start >= 3) inRun.fill(true, start, i);
    start = i;
  }
  return inRun.every(Boolean);
}

/** Why `password` is refused for the account `name` by its shape, or null (the common-password list is the console's). */
export function passwordShapeProblem(password: string, name?: string): PasswordRefusal | null {
  if ([...password].length < MIN_PASSWORD_LENGTH)
    return { code: 'too-short', message: `A password needs at least ${MIN_PASSWORD_LENGTH} characters` };
  if (new TextEncoder().encode(password).length > MAX_PASSWORD_BYTES)
    return { code: 'too-long', message: `A password may have at most ${MAX_PASSWORD_BYTES} bytes` };
  if (password.trim() !== password)
    return { code: 'spaces', message: 'A password may not start or end with spaces (they are easily lost when typed)' };
  if (name !== undefined && derivesFromName(password, name))
    return { code: 'account-name', message: 'A password may not be the account name, or the name with digits added' };
  if (isRepetitive(password))
    return { code: 'repetitive', message: 'A password may not repeat one character or a short group of characters' };
  if (isSequential(password))
    return { code: 'sequential', message: 'A password may not be a sequence like "abcdefgh", "12345678" or "qwertyuiop"' };
  return null;
}

/** The refusal of a password found on the list of common and breached passwords. */
export const COMMON_PASSWORD_REFUSAL: PasswordRefusal = Object.freeze({
  code: 'common',
  message: 'This password is on the list of common and breached passwords that attackers try first: choose another',
});
