/** A recipient as the shared store's queries return it (./pg-queue.ts, ./pg-queue-control.ts). */
import type { Recipient, RecipientState } from '../types';

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
  meta: Record<string, unknown>;
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
  state: RecipientState;
  line: string | null;
  send_id: number | null;
  tel_id: number | null;
  sms_no: number | null;
  error: string | null;
  attempts: number;
  excluded_lines: string[];
  route_group: string;
  delivery_state: number | null;
  delivered_at: number | null;
  updated_at: number;
}

export const COLUMNS = `r.message_id, r.batch_seq, b.batch_id, r.idx, b.recipient_count, r.number, COALESCE(r.text, b.text) AS text, b.line AS pinned_line,
  b.node_id, b.meta, COALESCE(r.segments, b.segments) AS segments, COALESCE(r.encoding, b.encoding) AS encoding, r.state, r.line, r.send_id, r.tel_id, r.sms_no, r.error,
  r.attempts, r.excluded_lines, r.route_group, r.delivery_state, r.delivered_at, r.updated_at`;
export const SELECT_RECIPIENT = `SELECT ${COLUMNS} FROM recipients r JOIN batches b ON b.seq = r.batch_seq`;

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
    meta: row.meta,
    segments: row.segments,
    encoding: row.encoding,
    state: row.state,
    line: row.line,
    sendId: row.send_id,
    telId: row.tel_id,
    smsNo: row.sms_no,
    error: row.error,
    attempts: row.attempts,
    excludedLines: row.excluded_lines,
    group: row.route_group,
    deliveryState: row.delivery_state,
    deliveredAt: row.delivered_at,
    updatedAt: row.updated_at,
  };
}

export function wrongState(recipient: Recipient, expected: RecipientState, operation: string): Error {
  return new Error(`outbox: ${operation}(${recipient.messageId}) needs a ${expected} recipient, it is ${recipient.state}`);
}
