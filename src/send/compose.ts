/**
 * Turns what a flow hands goip-send into a batch ready to store: recipients parsed and
 * normalised by a configurable rule, text checked and measured. Pure: no I/O.
 */
import { type Priority, PRIORITIES } from '../outbox/types';
import { MAX_MESSAGE_BYTES } from '../protocol';
import { guardText, type MeasuredText, measureText, type TextRules, textRules } from './encoding';
import { InputError, type NumberRule } from './numbers';
import { GroupRouter, routeAll, stickyRule, stickyWindows } from './routing';
import { missingVars, Template } from './template';

export { checkRule, InputError, normalizeNumber, type NumberFormat, type NumberRule } from './numbers';
export { type EncodingMode, type MeasuredText, measureText, type TextRules } from './encoding';

/** Recipients from a string (comma, semicolon or newline separated) or an array. */
export function parseRecipients(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' || typeof value === 'number' ? String(value).split(/[,;\n]/) : [];
  return items.map((item) => String(item ?? '').trim()).filter((item) => item !== '');
}

export interface SendRequest {
  text: unknown;
  to: unknown;
  line: unknown;
  /** msg.group: pins a routing group. */
  group?: unknown;
  /** auto (default) | gsm7 | transliterate. */
  encoding?: unknown;
  /** Most SMS parts a text may take; 0 or absent = no limit. */
  maxParts?: unknown;
  /** What a personalised text does with a variable a recipient lacks: fail (default) | empty. */
  missing?: unknown;
  /** A number goes out on the line that last sent to it (default off; a group's own key wins). */
  sticky?: unknown;
  /** How long a number keeps to its line (default 30). */
  stickyDays?: unknown;
}

/** One recipient's own text of a personalised batch, or why it cannot go (`code: reason`). */
export type PersonalText = (MeasuredText & { text: string }) | { error: string };

export interface ComposedBatch extends MeasuredText {
  /** The text as sent (transliterated where asked); a personalised batch's template. */
  text: string;
  /** Normalised, duplicates removed, in input order. */
  numbers: string[];
  /** The routing group of each number (same order; '' = the lines in no group). */
  groups: string[];
  line: string | null;
  /** A personalised batch's text of each number (same order); absent for one text to all. */
  personal?: PersonalText[];
  /** How long each number keeps to its line, ms (same order; null: not sticky); absent when none is. */
  stickyMs?: Array<number | null>;
}

/** `to` entries `{number, vars}` make the batch personalised; plain numbers among them get no vars. */
function recipientEntries(value: unknown): { raw: string[]; vars: Array<Record<string, unknown>> } | null {
  if (!Array.isArray(value) || !value.some((item) => typeof item === 'object' && item !== null)) return null;
  const raw: string[] = [];
  const vars: Array<Record<string, unknown>> = [];
  value.forEach((item: unknown, index) => {
    if (typeof item === 'string' || typeof item === 'number') {
      raw.push(String(item).trim());
      vars.push({});
      return;
    }
    const entry = (item ?? {}) as Record<string, unknown>;
    if (typeof entry.number !== 'string' && typeof entry.number !== 'number') throw new InputError(`msg.payload.to[${index}] has no number: write {number, vars}`);
    if (entry.vars !== undefined && (typeof entry.vars !== 'object' || entry.vars === null || Array.isArray(entry.vars))) {
      throw new InputError(`msg.payload.to[${index}].vars must be an object of template variables`);
    }
    raw.push(String(entry.number).trim());
    vars.push({ number: String(entry.number).trim(), ...((entry.vars as Record<string, unknown> | undefined) ?? {}) });
  });
  return { raw: raw.filter((number) => number !== ''), vars: vars.filter((_, i) => raw[i] !== '') };
}

function personalText(template: Template, vars: Record<string, unknown>, rules: TextRules, emptyMissing: boolean): PersonalText {
  const missing = emptyMissing ? [] : template.missing(vars);
  if (missing.length > 0) return { error: `TEMPLATE_VAR: no value for ${missing.map((name) => `{{${name}}}`).join(', ')}` };
  try {
    const rendered = template.render(vars);
    if (rendered.trim() === '') return { error: 'TEMPLATE_VAR: the text renders empty' };
    const { text, measured } = guardText(rendered, rules);
    if (measured.bytes > MAX_MESSAGE_BYTES) return { error: `TOO_LONG: the text is ${measured.bytes} UTF-8 bytes; GoIP takes at most ${MAX_MESSAGE_BYTES}` };
    return { ...measured, text };
  } catch (err) {
    if (err instanceof InputError && err.code !== undefined) return { error: `${err.code}: ${err.message}` };
    throw err;
  }
}

/**
 * Everything goip-send checks before anything is stored. Throws InputError with a reason a
 * user can act on (and a code where a flow may branch on it: NOT_GSM7, TOO_LONG). The text is
 * measured once per batch; a personalised batch's each rendered text, and a recipient whose
 * text cannot go fails alone (its PersonalText holds the reason).
 */
export function composeBatch(request: SendRequest, rule: NumberRule, knownLines: ReadonlySet<string>, router = new GroupRouter()): ComposedBatch {
  if (typeof request.text !== 'string' && typeof request.text !== 'number') throw new InputError('no text: set msg.payload (or payload.text) to the SMS text');
  const source = String(request.text);
  if (source.trim() === '') throw new InputError('the SMS text is empty');
  const rules = textRules(request.encoding, request.maxParts);
  const sticky = stickyRule(request.sticky, request.stickyDays);
  const entries = recipientEntries(request.to);
  const emptyMissing = missingVars(request.missing) === 'empty';
  const template = entries === null ? null : new Template(source);
  // The template's own words: a character GSM-7 lacks there fails the whole input, as a plain text would.
  const { text, measured } = template === null ? guardText(source, rules) : { text: source, measured: measureText(source) };
  if (template !== null && rules.encoding === 'gsm7') guardText(template.literal, { encoding: 'gsm7', maxParts: 0 });
  if (measured.bytes > MAX_MESSAGE_BYTES) throw new InputError(`the SMS text is ${measured.bytes} UTF-8 bytes; GoIP takes at most ${MAX_MESSAGE_BYTES}`, 'TOO_LONG');
  const raw = entries?.raw ?? parseRecipients(request.to);
  if (raw.length === 0) throw new InputError('no recipients: set msg.to to a number, an array or a comma-separated list');
  const line = request.line === undefined || request.line === null || String(request.line).trim() === '' ? null : String(request.line).trim();
  if (line !== null && !knownLines.has(line)) throw new InputError(`unknown line "${line}": it is not in the GoIP server's lines list`);
  const { numbers, groups, kept } = routeAll(raw, rule, router, request.group, line, knownLines);
  const batch: ComposedBatch = { ...measured, text, numbers, groups, line };
  const stickyMs = stickyWindows(groups, sticky, router);
  if (stickyMs.some((ms) => ms !== null)) batch.stickyMs = stickyMs;
  if (template !== null && entries !== null) batch.personal = kept.map((index) => personalText(template, entries.vars[index], rules, emptyMissing));
  return batch;
}

export interface QueueRequest {
  priority: unknown;
  sendAt: unknown;
  validity: unknown;
  expiresAt: unknown;
  batchId: unknown;
}

export interface QueueFields {
  priority: Priority;
  /** ms epoch; null = at once. */
  sendAt: number | null;
  /** ms epoch; null = never. */
  expiresAt: number | null;
  /** null = generate one. */
  batchId: string | null;
}

const MAX_BATCH_ID_LENGTH = 200;

function absent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** A Date, an ISO 8601 string or epoch ms as epoch ms; InputError naming `field` otherwise. */
function parseTime(value: unknown, field: string): number {
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value.trim())
          ? Date.parse(value.trim())
          : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) throw new InputError(`${field} must be a Date, an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(value)}`);
  return ms;
}

/** msg.priority, msg.sendAt, msg.validity / msg.expiresAt and msg.batchId, checked at `now`. */
export function composeQueueFields(request: QueueRequest, now: number): QueueFields {
  const priority = absent(request.priority) ? 'normal' : String(request.priority).trim().toLowerCase();
  if (!(PRIORITIES as readonly string[]).includes(priority)) throw new InputError(`msg.priority must be ${PRIORITIES.join(', ')}, got ${JSON.stringify(request.priority)}`);
  const sendAt = absent(request.sendAt) ? null : parseTime(request.sendAt, 'msg.sendAt');
  if (!absent(request.validity) && !absent(request.expiresAt)) throw new InputError('set msg.validity or msg.expiresAt, not both');
  let expiresAt: number | null = null;
  if (!absent(request.validity)) {
    const seconds = typeof request.validity === 'string' ? Number(request.validity.trim()) : request.validity;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) throw new InputError(`msg.validity must be a number of seconds above 0, got ${JSON.stringify(request.validity)}`);
    expiresAt = now + seconds * 1000;
  } else if (!absent(request.expiresAt)) {
    expiresAt = parseTime(request.expiresAt, 'msg.expiresAt');
    if (expiresAt <= now) throw new InputError(`msg.expiresAt ${new Date(expiresAt).toISOString()} has already passed`);
  }
  if (expiresAt !== null && sendAt !== null && expiresAt <= sendAt) throw new InputError('the message would expire before msg.sendAt');
  let batchId: string | null = null;
  if (!absent(request.batchId)) {
    if (typeof request.batchId !== 'string' && typeof request.batchId !== 'number') throw new InputError('msg.batchId must be a string');
    batchId = String(request.batchId).trim();
    if (batchId === '' || batchId.length > MAX_BATCH_ID_LENGTH) throw new InputError(`msg.batchId must be 1 to ${MAX_BATCH_ID_LENGTH} characters`);
  }
  return { priority: priority as Priority, sendAt, expiresAt, batchId };
}
