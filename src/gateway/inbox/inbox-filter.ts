/**
 * History filters as goip-inbox (msg.payload) and GET /goip/<id>/inbox (query text) give them,
 * checked into an InboxQuery, and the items a page answers with. Pure.
 */
import type { InboxQuery, InboxRowOut } from '../../outbox/types';

const DEFAULT_INBOX_LIMIT = 100;
const MAX_INBOX_LIMIT = 1000;

const FILTER_KEYS = ['from', 'line', 'since', 'until', 'text', 'kind', 'limit', 'before'] as const;

/** A filter that cannot be used; `code` is 'input' (public contract, msg.error.code). */
export class InboxQueryError extends Error {
  readonly code = 'input';
}

export interface InboxItem {
  inboxId: number;
  kind: 'sms' | 'delivery';
  line: string;
  from: string;
  text: string;
  receivedAt: string;
  parts: number;
  messageId?: string | null;
  status?: string | null;
}

/** `input` is an object (or absent: the newest page of everything); values may be text, as from a URL. */
export function parseInboxQuery(input: unknown): InboxQuery {
  if (input === undefined || input === null || input === '') return { limit: DEFAULT_INBOX_LIMIT };
  if (typeof input !== 'object' || Array.isArray(input)) throw new InboxQueryError('the filters must be an object like {"from": "+8613800138000", "limit": 10}');
  const filters = input as Record<string, unknown>;
  const unknown = Object.keys(filters).filter((key) => !(FILTER_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new InboxQueryError(`unknown filter "${unknown[0]}" (use ${FILTER_KEYS.join(', ')})`);
  const query: InboxQuery = { limit: limitOf(filters.limit) };
  const from = text(filters.from, 'from');
  if (from !== undefined) query.from = from;
  const line = text(filters.line, 'line');
  if (line !== undefined) query.line = line;
  const needle = text(filters.text, 'text');
  if (needle !== undefined) query.text = needle;
  const kind = text(filters.kind, 'kind');
  if (kind !== undefined) {
    if (kind !== 'sms' && kind !== 'delivery') throw new InboxQueryError(`kind must be "sms" or "delivery", got ${JSON.stringify(kind)}`);
    query.kind = kind;
  }
  const since = time(filters.since, 'since');
  if (since !== undefined) query.since = since;
  const until = time(filters.until, 'until');
  if (until !== undefined) query.until = until;
  if (since !== undefined && until !== undefined && until <= since) throw new InboxQueryError('until must be later than since');
  const before = cursor(filters.before);
  if (before !== undefined) query.before = before;
  return query;
}

export function inboxItem(row: InboxRowOut): InboxItem {
  const item: InboxItem = {
    inboxId: row.inbox_id,
    kind: row.kind,
    line: row.line,
    from: row.sender,
    text: row.text,
    receivedAt: new Date(row.received_at).toISOString(),
    parts: row.parts,
  };
  if (row.kind === 'delivery') {
    item.messageId = row.message_id;
    item.status = row.status;
  }
  return item;
}

const absent = (value: unknown): boolean => value === undefined || value === null || value === '';

function text(value: unknown, field: string): string | undefined {
  if (absent(value)) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') throw new InboxQueryError(`${field} must be text, got ${JSON.stringify(value)}`);
  const trimmed = String(value).trim();
  return trimmed === '' ? undefined : trimmed;
}

function limitOf(value: unknown): number {
  if (absent(value)) return DEFAULT_INBOX_LIMIT;
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_INBOX_LIMIT) {
    throw new InboxQueryError(`limit must be a whole number from 1 to ${MAX_INBOX_LIMIT}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** ISO 8601 text, a Date, or ms epoch (as a number or digits). */
function time(value: unknown, field: string): number | undefined {
  if (absent(value)) return undefined;
  let ms = Number.NaN;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number') ms = value;
  else if (typeof value === 'string' && /^\d+$/.test(value.trim())) ms = Number(value.trim());
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value.trim())) ms = Date.parse(value.trim());
  if (!Number.isFinite(ms) || ms < 0) throw new InboxQueryError(`${field} must be an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(value)}`);
  return ms;
}

function cursor(value: unknown): number | undefined {
  if (absent(value)) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new InboxQueryError(`before must be the cursor of a previous page (msg.next), got ${JSON.stringify(value)}`);
  return n;
}
