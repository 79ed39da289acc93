/**
 * The encoding guard: what goip-send does with a text GSM-7 cannot carry, and the cap on its parts.
 * `auto` lets the text go as UCS-2 when it must (one curly quote makes a 160-character SMS three
 * parts); `gsm7` refuses such a text; `transliterate` replaces only the characters GSM-7 and its
 * extension table lack (é, ü, £ and € stay). Pure.
 */
import { SegmentedMessage } from 'sms-segments-calculator';
import UNICODE_TO_GSM from 'sms-segments-calculator/dist/libs/UnicodeToGSM';
import { optionalModule } from '../util/optional-module';
import { InputError } from './numbers';

/** An optional dependency: only encoding `transliterate` loads it (and its character tables). */
const transliteration = optionalModule<typeof import('transliteration')>('transliteration', 'encoding transliterate');

export type EncodingMode = 'auto' | 'gsm7' | 'transliterate';
export const ENCODING_MODES: readonly EncodingMode[] = ['auto', 'gsm7', 'transliterate'];

export interface MeasuredText {
  bytes: number;
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
}

export interface TextRules {
  encoding: EncodingMode;
  /** 0 = no limit. */
  maxParts: number;
}

export const DEFAULT_TEXT_RULES: TextRules = { encoding: 'auto', maxParts: 0 };

/** What a character with no Latin spelling becomes (an emoji, a symbol). */
const UNKNOWN_REPLACEMENT = '?';
const MAX_PARTS_LIMIT = 255;

function absent(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/** The node's or the message's `encoding` and `maxParts`, checked; `fallback` where a value is absent. */
export function textRules(encoding: unknown, maxParts: unknown, fallback: TextRules = DEFAULT_TEXT_RULES): TextRules {
  let mode = fallback.encoding;
  if (!absent(encoding)) {
    const name = String(encoding).trim().toLowerCase();
    if (!(ENCODING_MODES as readonly string[]).includes(name)) throw new InputError(`encoding must be ${ENCODING_MODES.join(', ')}, got ${JSON.stringify(encoding)}`);
    mode = name as EncodingMode;
  }
  let parts = fallback.maxParts;
  if (!absent(maxParts)) {
    parts = typeof maxParts === 'string' ? Number(maxParts.trim()) : (maxParts as number);
    if (typeof parts !== 'number' || !Number.isInteger(parts) || parts < 0 || parts > MAX_PARTS_LIMIT) {
      throw new InputError(`maxParts must be a whole number from 0 (no limit) to ${MAX_PARTS_LIMIT}, got ${JSON.stringify(maxParts)}`);
    }
  }
  return { encoding: mode, maxParts: parts };
}

function measure(message: SegmentedMessage, text: string): MeasuredText {
  return {
    bytes: Buffer.byteLength(text, 'utf8'),
    segments: message.segmentsCount,
    encoding: message.encodingName === 'GSM-7' ? 'GSM-7' : 'UCS-2',
  };
}

const SINGLE_PART = { gsmSeptets: 160, ucs2Units: 70 };

/**
 * The measure of a text that fits one part, read off the segment library's own GSM-7 table
 * without its grapheme split, which costs tens of microseconds a text (most of the time of a
 * personalised batch); null when it may not fit one part (or holds a CR, which the library pairs
 * with a LF): then the library counts.
 */
function singlePart(text: string): MeasuredText | null {
  if (text.length > SINGLE_PART.gsmSeptets || text.includes('\r')) return null;
  let septets = 0;
  for (let i = 0; i < text.length; i++) {
    const gsm = UNICODE_TO_GSM[text.charCodeAt(i)];
    if (gsm === undefined) return text.length <= SINGLE_PART.ucs2Units ? { bytes: Buffer.byteLength(text, 'utf8'), segments: 1, encoding: 'UCS-2' } : null;
    septets += gsm.length;
  }
  return septets <= SINGLE_PART.gsmSeptets ? { bytes: Buffer.byteLength(text, 'utf8'), segments: 1, encoding: 'GSM-7' } : null;
}

export function measureText(text: string): MeasuredText {
  return singlePart(text) ?? measure(new SegmentedMessage(text), text);
}

function describe(characters: readonly string[]): string {
  return characters.map((c) => `"${c}" (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`).join(', ');
}

/**
 * The text as it will be sent, and its measure, under `rules`. InputError code NOT_GSM7 (naming
 * the characters) or TOO_LONG; nothing is changed in `auto` mode.
 */
export function guardText(text: string, rules: TextRules): { text: string; measured: MeasuredText } {
  let sent = text;
  let measured = singlePart(text);
  let message = rules.encoding === 'auto' || measured?.encoding === 'GSM-7' ? null : new SegmentedMessage(text);
  if (message !== null && message.encodingName !== 'GSM-7') {
    const lacking = [...new Set(message.getNonGsmCharacters())];
    if (rules.encoding === 'gsm7') {
      throw new InputError(`the text has characters GSM-7 lacks: ${describe(lacking)}; replace them or set encoding to transliterate or auto`, 'NOT_GSM7');
    }
    const { transliterate } = transliteration();
    for (const character of lacking) sent = sent.split(character).join(transliterate(character, { unknown: UNKNOWN_REPLACEMENT }) || UNKNOWN_REPLACEMENT);
    message = new SegmentedMessage(sent);
    // What the transliteration left outside GSM-7 (a tab, say) has no better spelling.
    const left = message.encodingName === 'GSM-7' ? [] : [...new Set(message.getNonGsmCharacters())];
    if (left.length > 0) {
      for (const character of left) sent = sent.split(character).join(UNKNOWN_REPLACEMENT);
      message = new SegmentedMessage(sent);
    }
    measured = measure(message, sent);
  }
  measured ??= message === null ? measureText(sent) : measure(message, sent);
  if (rules.maxParts > 0 && measured.segments > rules.maxParts) {
    throw new InputError(`the text needs ${measured.segments} SMS parts (${measured.encoding}); maxParts allows ${rules.maxParts}`, 'TOO_LONG');
  }
  return { text: sent, measured };
}
