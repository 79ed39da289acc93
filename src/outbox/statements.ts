/**
 * The outbox's SQL, prepared once per connection (claim and commit are on the send hot path),
 * and its rows turned into Recipients.
 */
import type { Connection } from './sqlite-driver';
import type { Recipient, RecipientState } from './types';

/** Sendids are positive integers on the wire; keep them below a million. */
const MAX_SEND_ID = 999_999;

export interface RecipientRow {
  message_id: string;
  batch_seq: number;
  batch_id: string;
  idx: number;
  recipient_count: number;
  number: string;
  text: string;
  pinned_line: string | null;
  node_id: string;
  meta: string;
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
  state: RecipientState;
  line: string | null;
  send_id: number | null;
  tel_id: number | null;
  sms_no: number | null;
  error: string | null;
  attempts: number;
  excluded_lines: string;
  route_group: string;
  delivery_state: number | null;
  delivered_at: number | null;
  updated_at: number;
}

export const SELECT_RECIPIENT = `
  SELECT r.message_id, r.batch_seq, b.batch_id, r.idx, b.recipient_count, r.number, COALESCE(r.text, b.text) AS text, b.line AS pinned_line,
         b.node_id, b.meta, COALESCE(r.segments, b.segments) AS segments, COALESCE(r.encoding, b.encoding) AS encoding, r.state, r.line, r.send_id, r.tel_id, r.sms_no,
         r.error, r.attempts, r.excluded_lines, r.route_group, r.delivery_state, r.delivered_at, r.updated_at
  FROM recipients r JOIN batches b ON b.seq = r.batch_seq`;

/** `line` is not in the recipient's excluded_lines (a JSON array). */
const NOT_EXCLUDED = `NOT EXISTS (SELECT 1 FROM json_each(r.excluded_lines) WHERE value = @line)`;
const NOT_EXPIRED = `(r.expires_at IS NULL OR r.expires_at > @now)`;

/** The DELIVER lookup (by sms_no) and the +CDS one (by send time): each must be an index search (test/outbox/queue-outbox.test.ts). */
export const LATEST_SENT_BY_SMS_NO = `
  SELECT message_id FROM recipients
  WHERE state = 'sent' AND line = @line AND sms_no = @smsNo AND sent_at >= @since
  ORDER BY sent_at DESC LIMIT 1`;
export const SENT_IN_WINDOW = `
  SELECT message_id, number, sent_at FROM recipients
  WHERE state = 'sent' AND line = @line AND sent_at BETWEEN @from AND @to`;

/** The recipient's routing group is one of @groups (a JSON array), or @groups is null (any). */
const IN_GROUPS = `(@groups IS NULL OR r.route_group IN (SELECT value FROM json_each(@groups)))`;

/** A sticky recipient whose number's line is another line that may send now (@available) waits for it. */
const NOT_STUCK_ELSEWHERE = `(r.sticky_ms IS NULL OR NOT EXISTS (
  SELECT 1 FROM number_lines n
  WHERE n.number = r.number AND n.line <> @line AND n.at >= @now - r.sticky_ms AND n.line IN (SELECT value FROM json_each(@available))))`;

/** A queued recipient of batch @seq that @line may send now. */
const SENDABLE_IN_BATCH = `r.state = 'queued' AND r.batch_seq = @seq AND ${NOT_EXCLUDED} AND ${NOT_EXPIRED} AND ${IN_GROUPS} AND ${NOT_STUCK_ELSEWHERE}`;

/**
 * A session carries one text, so in a personalised batch (each recipient its own text) it claims
 * only the recipients of its text: @text, or without one the text of the first it may send.
 */
const OF_SESSION_TEXT = `(r.text IS NULL OR r.text = COALESCE(@text, (SELECT r.text FROM recipients r WHERE ${SENDABLE_IN_BATCH} ORDER BY r.idx LIMIT 1)))`;

export function toRecipient(row: RecipientRow): Recipient {
  return {
    messageId: row.message_id,
    batchId: row.batch_id,
    index: row.idx,
    count: row.recipient_count,
    number: row.number,
    text: row.text,
    pinnedLine: row.pinned_line,
    nodeId: row.node_id,
    meta: JSON.parse(row.meta) as Record<string, unknown>,
    segments: row.segments,
    encoding: row.encoding,
    state: row.state,
    line: row.line,
    sendId: row.send_id,
    telId: row.tel_id,
    smsNo: row.sms_no,
    error: row.error,
    attempts: row.attempts,
    excludedLines: JSON.parse(row.excluded_lines) as string[],
    group: row.route_group,
    deliveryState: row.delivery_state,
    deliveredAt: row.delivered_at,
    updatedAt: row.updated_at,
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Connection) {
  return {
    insertBatch: db.prepare<{ seq: number }>(`
      INSERT INTO batches (batch_id, text, line, node_id, meta, segments, encoding, recipient_count, created_at, priority, send_at)
      VALUES (@batchId, @text, @line, @nodeId, @meta, @segments, @encoding, @recipientCount, @now, @priority, @sendAt)
      RETURNING seq`),
    insertRecipient: db.prepare(`
      INSERT INTO recipients (message_id, batch_seq, idx, number, state, updated_at, priority, expires_at, route_group, text, segments, encoding, sticky_ms)
      VALUES (@messageId, @batchSeq, @index, @number, 'queued', @now, @priority, @expiresAt, @group, @text, @segments, @encoding, @stickyMs)`),
    recipientById: db.prepare<RecipientRow>(`${SELECT_RECIPIENT} WHERE r.message_id = ?`),
    claimedRecipients: db.prepare<RecipientRow>(
      `${SELECT_RECIPIENT} WHERE r.state = 'claimed' ORDER BY r.line, r.send_id, r.tel_id`,
    ),
    firstClaimableBatch: db.prepare<{ seq: number; text: string | null }>(`
      SELECT r.batch_seq AS seq, r.text FROM recipients r JOIN batches b ON b.seq = r.batch_seq
      WHERE r.state = 'queued' AND r.priority <= @lowest AND (b.line IS NULL OR b.line = @line) AND ${NOT_EXCLUDED} AND ${IN_GROUPS}
        AND (b.send_at IS NULL OR b.send_at <= @now) AND ${NOT_EXPIRED} AND ${NOT_STUCK_ELSEWHERE}
      ORDER BY r.priority, r.batch_seq LIMIT 1`),
    batchBySeq: db.prepare<{ batch_id: string; text: string }>(`SELECT batch_id, text FROM batches WHERE seq = ?`),
    claimableBatchById: db.prepare<{ seq: number; priority: number }>(`
      SELECT seq, priority FROM batches
      WHERE batch_id = @batchId AND (line IS NULL OR line = @line) AND (send_at IS NULL OR send_at <= @now) AND priority <= @lowest`),
    claimableInBatch: db.prepare<{ message_id: string }>(`
      SELECT r.message_id FROM recipients r
      WHERE ${SENDABLE_IN_BATCH} AND ${OF_SESSION_TEXT}
      ORDER BY r.idx LIMIT @limit`),
    unroutable: db.prepare<{ message_id: string; route_group: string }>(`
      SELECT r.message_id, r.route_group FROM recipients r
      WHERE r.state = 'queued' AND r.route_group NOT IN (SELECT value FROM json_each(@groups))`),
    noteLineSend: db.prepare(`INSERT INTO line_sends (line, at) VALUES (?, ?)`),
    noteNumberLine: db.prepare(`
      INSERT INTO number_lines (number, line, at) VALUES (?, ?, ?)
      ON CONFLICT (number) DO UPDATE SET line = excluded.line, at = excluded.at`),
    purgeNumberLines: db.prepare(`DELETE FROM number_lines WHERE at < ?`),
    lineSendsSince: db.prepare<{ n: number }>(`SELECT COUNT(*) AS n FROM line_sends WHERE line = ? AND at >= ?`),
    purgeLineSends: db.prepare(`DELETE FROM line_sends WHERE at < ?`),
    purgeInbox: db.prepare(`DELETE FROM inbox WHERE received_at < ?`),
    markClaimed: db.prepare(`
      UPDATE recipients
      SET state = 'claimed', line = @line, send_id = @sendId, tel_id = @telId, attempts = attempts + 1, updated_at = @now
      WHERE message_id = @messageId`),
    markSent: db.prepare(`
      UPDATE recipients SET state = 'sent', sms_no = @smsNo, sent_at = @now, updated_at = @now
      WHERE message_id = @messageId`),
    markFailed: db.prepare(`
      UPDATE recipients SET state = 'failed', error = @reason, updated_at = @now WHERE message_id = @messageId`),
    unsendable: db.prepare<{ message_id: string; pinned_line: string | null }>(`
      SELECT r.message_id, b.line AS pinned_line FROM recipients r JOIN batches b ON b.seq = r.batch_seq
      WHERE r.state = 'queued' AND (
        (b.line IS NOT NULL AND b.line NOT IN (SELECT value FROM json_each(@lines)))
        OR NOT EXISTS (SELECT 1 FROM json_each(@lines) l WHERE l.value NOT IN (SELECT value FROM json_each(r.excluded_lines))))`),
    failQueued: db.prepare(`
      UPDATE recipients SET state = 'failed', error = @reason, updated_at = @now WHERE message_id = @messageId AND state = 'queued'`),
    requeue: db.prepare(`
      UPDATE recipients
      SET state = 'queued', line = NULL, send_id = NULL, tel_id = NULL, excluded_lines = @excludedLines, updated_at = @now
      WHERE message_id = @messageId`),
    latestSentBySmsNo: db.prepare<{ message_id: string }>(LATEST_SENT_BY_SMS_NO),
    sentInWindow: db.prepare<{ message_id: string; number: string; sent_at: number }>(SENT_IN_WINDOW),
    markDelivery: db.prepare(`
      UPDATE recipients SET delivery_state = @tpStatus, delivered_at = @at, updated_at = @now WHERE message_id = @messageId`),
    nextSendId: db.prepare<{ last: number }>(`
      INSERT INTO send_ids (line, last) VALUES (@line, @first)
      ON CONFLICT (line) DO UPDATE SET last = last % ${MAX_SEND_ID} + 1
      RETURNING last`),
    sentOnDay: db.prepare<{ count: number }>(`SELECT count FROM line_usage WHERE line = ? AND day = ?`),
    sentByLineOnDay: db.prepare<{ line: string; count: number }>(`SELECT line, count FROM line_usage WHERE day = ?`),
    totalChanges: db.prepare<{ n: number }>('SELECT total_changes() AS n'),
    countSent: db.prepare(`
      INSERT INTO line_usage (line, day, count) VALUES (?, ?, 1)
      ON CONFLICT (line, day) DO UPDATE SET count = count + 1`),
    countInState: db.prepare<{ n: number }>(`SELECT COUNT(*) AS n FROM recipients WHERE state = ?`),
    purgeRecipients: db.prepare(`
      DELETE FROM recipients WHERE state NOT IN ('queued', 'claimed') AND updated_at < ?`),
    purgeEmptyBatches: db.prepare(`
      DELETE FROM batches WHERE NOT EXISTS (SELECT 1 FROM recipients r WHERE r.batch_seq = batches.seq)`),
  };
}
