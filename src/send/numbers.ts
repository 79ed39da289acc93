/**
 * Recipient numbers: the rule (default country, wire format) and a number normalised by it, or an
 * InputError naming it. Pure: no I/O. Both composing a batch and routing it by group use it.
 */
import { type CountryCode, getCountries, parsePhoneNumberFromString } from 'libphonenumber-js';

/** What a flow handed goip-send (or a script the gateway) that cannot be sent as it is. */
/** A reason the sender can act on; `code` (msg.error.code) where a flow may branch on it. */
export class InputError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * How numbers go on the wire. The specification asks for international format; some carriers want
 * the local form (docs/protocol.md#firmware-variants-we-handle).
 */
export type NumberFormat = 'e164' | 'digits' | 'national' | 'asis';

export interface NumberRule {
  /** ISO 3166 country assumed for numbers without a country code ('' = none: they must carry +). */
  country: string;
  format: NumberFormat;
}

const NUMBER_FORMATS: readonly NumberFormat[] = ['e164', 'digits', 'national', 'asis'];
const COUNTRIES = new Set<string>(getCountries());

/** Short codes (carrier services, `10086`) are dialled as they are; no numbering plan applies. */
const MAX_SHORT_CODE_DIGITS = 6;

export function checkRule(rule: NumberRule): NumberRule {
  const country = rule.country.trim().toUpperCase();
  if (country !== '' && !COUNTRIES.has(country)) throw new InputError(`unknown country code "${rule.country}" (use ISO 3166, e.g. CN, UA, GB)`);
  if (!NUMBER_FORMATS.includes(rule.format)) throw new InputError(`unknown number format "${rule.format}" (${NUMBER_FORMATS.join(', ')})`);
  return { country, format: rule.format };
}

function isShortCode(raw: string): boolean {
  if (raw.length === 0 || raw.length > MAX_SHORT_CODE_DIGITS) return false;
  for (const ch of raw) if (ch < '0' || ch > '9') return false;
  return true;
}

/** The number as it goes on the wire, or an InputError naming it. */
export function normalizeNumber(raw: string, rule: NumberRule): string {
  const number = raw.trim();
  if (number === '') throw new InputError('an empty recipient number');
  if (isShortCode(number)) return number;
  const parsed = parsePhoneNumberFromString(number, rule.country === '' ? undefined : (rule.country as CountryCode));
  if (parsed === undefined) {
    const hint = !number.startsWith('+') && rule.country === '' ? ' (no country code and no default country set)' : '';
    throw new InputError(`"${number}" is not a phone number${hint}`);
  }
  if (!parsed.isPossible()) throw new InputError(`"${number}" is not a possible phone number for ${parsed.country ?? `+${parsed.countryCallingCode}`}`);
  switch (rule.format) {
    case 'e164':
      return parsed.number;
    case 'digits':
      return parsed.number.slice(1);
    case 'national':
      // The library formats for reading ("138 0013 8000"); the wire wants the digits alone.
      return [...parsed.formatNational()].filter((ch) => ch >= '0' && ch <= '9').join('');
    case 'asis':
      return number;
  }
}
