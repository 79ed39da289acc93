/**
 * Comparing phone numbers across the forms one number takes on its way: what a flow gave
 * (`+8613853176777`, `013853176777`), what the GoIP wrote into the SMS-SUBMIT, and what the
 * service centre puts into its SMS-STATUS-REPORT (often re-formatted to international).
 */

/** A number this short must match exactly (short codes); longer ones may differ in their prefix. */
const MIN_SUFFIX_DIGITS = 7;

function digitsOf(number: string): string {
  let out = '';
  for (const ch of number) if (ch >= '0' && ch <= '9') out += ch;
  return out;
}

/** True when the text holds a letter: an alphanumeric address (`BANK`), compared as text. */
function isAlphanumeric(number: string): boolean {
  return /[A-Za-z]/.test(number);
}

/**
 * Whether `a` and `b` are the same subscriber: equal digits, or, both having at least 7 digits,
 * the shorter (trunk or international prefix `0`/`00` removed) ends the longer, so `+86 138
 * 5317 6777`, `8613853176777`, `013853176777` and `13853176777` all match. Alphanumeric
 * addresses match case-insensitively as text. Empty never matches.
 */
export function sameNumber(a: string, b: string): boolean {
  if (isAlphanumeric(a) || isAlphanumeric(b)) {
    const x = a.trim().toUpperCase();
    return x !== '' && x === b.trim().toUpperCase();
  }
  const x = digitsOf(a).replace(/^0+/, '');
  const y = digitsOf(b).replace(/^0+/, '');
  if (x === '' || y === '') return false;
  if (x === y) return true;
  const [shorter, longer] = x.length <= y.length ? [x, y] : [y, x];
  return shorter.length >= MIN_SUFFIX_DIGITS && longer.endsWith(shorter);
}

/**
 * What two numbers sameNumber() matches always share, for an index: an alphanumeric address in
 * capitals, else its last 7 digits (all of them when fewer).
 */
export function numberTail(number: string): string {
  // Most numbers are digits with at most a leading +: their tail is a slice (this runs per received SMS).
  if (PLAIN_NUMBER.test(number)) return number.slice(Math.max(number.startsWith('+') ? 1 : 0, number.length - MIN_SUFFIX_DIGITS));
  if (isAlphanumeric(number)) return number.trim().toUpperCase();
  return digitsOf(number).slice(-MIN_SUFFIX_DIGITS);
}

const PLAIN_NUMBER = /^\+?[0-9]*$/;
