/**
 * History queries over the inbox: newest first, by sender, line, kind, time and a text substring,
 * a page at a time behind a cursor (the inboxId the page ended at). The SQL narrows by the indexed
 * columns; the sender and the text are then compared in full by the caller. Pure.
 */
import type { InboxQuery } from './types';

/** inbox.bucket = inbox_id >> INBOX_BUCKET_BITS (src/outbox/schema.ts says why). */
export const INBOX_BUCKET_BITS = 8;

/** The buckets one statement of a by-sender or by-line query looks into, newest first. */
const BUCKETS_PER_STATEMENT = 512;

/** The buckets of one statement, newest first, from the one holding `before - 1` down to `lowest`. */
export function bucketWindow(before: number, lowest: number): number[] {
  const first = Math.floor((before - 1) / 2 ** INBOX_BUCKET_BITS);
  const last = Math.max(Math.floor(lowest / 2 ** INBOX_BUCKET_BITS), first - BUCKETS_PER_STATEMENT + 1);
  const buckets: number[] = [];
  for (let bucket = first; bucket >= last; bucket--) buckets.push(bucket);
  return buckets;
}

/**
 * The statement for one chunk of candidates older than @before, and its parameters. `bucketed`:
 * it narrows by sender or line, whose indexes lead with the bucket, and needs @buckets (a JSON
 * array from bucketWindow).
 */
export function inboxQuerySql(query: InboxQuery, tail: string | null): { sql: string; params: Record<string, unknown>; bucketed: boolean } {
  const bucketed = tail !== null || query.line !== undefined;
  const where = bucketed ? ['bucket IN (SELECT value FROM json_each(@buckets))', 'inbox_id < @before'] : ['inbox_id < @before'];
  const params: Record<string, unknown> = {};
  if (tail !== null) {
    where.push('sender_tail = @tail');
    params.tail = tail;
  }
  if (query.line !== undefined) {
    where.push('line = @line');
    params.line = query.line;
  }
  if (query.kind !== undefined) {
    where.push('kind = @kind');
    params.kind = query.kind;
  }
  if (query.since !== undefined) {
    where.push('received_at >= @since');
    params.since = query.since;
  }
  if (query.until !== undefined) {
    where.push('received_at < @until');
    params.until = query.until;
  }
  const sql = `SELECT inbox_id, kind, line, sender, text, received_at, parts, message_id, status FROM inbox
    WHERE ${where.join(' AND ')} ORDER BY inbox_id DESC LIMIT @chunk`;
  return { sql, params, bucketed };
}
