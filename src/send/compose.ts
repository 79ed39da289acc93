/**
 * Turns what a flow hands goip-send into a batch ready to store: recipients parsed and
 * normalised by a configurable rule, text checked and measured. Pure: no I/O.
 */
import { SegmentedMessage } from 'sms-segments-calculator';
import { type Priority, PRIORITIES } from '../outbox/types';
import { MAX_MESSAGE_BYTES } from '../protocol';
import { InputError, type NumberRule } from './numbers';
import { GroupRouter, routeAll } from './routing';

export { checkRule, InputError, normalizeNumber, type NumberFormat, type NumberRule } from './numbers';

/** Recipients from a string (comma, semicolon or newline separated) or an array. */
export function parseRecipients(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' || typeof value === 'number' ? String(value).split(/[,;\n]/) : [];
  return items.map((item) => String(item ?? '').trim()).filter((item) => item !== '');
}

export interface MeasuredText {
  bytes: number;
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
}

export function measureText(text: string): MeasuredText {
  const message = new SegmentedMessage(text);
  return {
    bytes: Buffer.byteLength(text, 'utf8'),
    segments: message.segmentsCount,
    encoding: message.encodingName === 'GSM-7' ? 'GSM-7' : 'UCS-2',
  };
}

export interface SendRequest {
  text: unknown;
  to: unknown;
  line: unknown;
  /** msg.group: pins a routing group. */
  group?: unknown;
}

export interface ComposedBatch extends MeasuredText {
  text: string;
  /** Normalised, duplicates removed, in input order. */
  numbers: string[];
  /** The routing group of each number (same order; '' = the lines in no group). */
  groups: string[];
  line: string | null;
}

/**
 * Everything goip-send checks before anything is stored. Throws InputError with a reason a
 * user can act on.
 */
export function composeBatch(request: SendRequest, rule: NumberRule, knownLines: ReadonlySet<string>, router = new GroupRouter()): ComposedBatch {
  if (typeof request.text !== 'string' && typeof request.text !== 'number') throw new InputError('no text: set msg.payload (or payload.text) to the SMS text');
  const text = String(request.text);
  if (text.trim() === '') throw new InputError('the SMS text is empty');
  const measured = measureText(text);
  if (measured.bytes > MAX_MESSAGE_BYTES) throw new InputError(`the SMS text is ${measured.bytes} UTF-8 bytes; GoIP takes at most ${MAX_MESSAGE_BYTES}`);
  const raw = parseRecipients(request.to);
  if (raw.length === 0) throw new InputError('no recipients: set msg.to to a number, an array or a comma-separated list');
  const line = request.line === undefined || request.line === null || String(request.line).trim() === '' ? null : String(request.line).trim();
  if (line !== null && !knownLines.has(line)) throw new InputError(`unknown line "${line}": it is not in the GoIP server's lines list`);
  const { numbers, groups } = routeAll(raw, rule, router, request.group, line, knownLines);
  return { ...measured, text, numbers, groups, line };
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
