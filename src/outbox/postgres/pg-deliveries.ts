/**
 * Which send a delivery report is for, on the shared store, and its delivery state: the newest
 * send of a line with a DELIVER report's sms_no, or the send to a number nearest a +CDS report's
 * time. Semantics are those of the SQLite store (../sqlite-outbox.ts).
 */
import type pg from 'pg';
import { sameNumber } from '../../pdu/numbers';
import type { Asynchronous, Outbox, Recipient } from '../types';
import { COLUMNS, type RecipientRow, SELECT_RECIPIENT, toRecipient, wrongState } from './pg-rows';

type DeliveryCalls = Pick<Outbox, 'correlateDelivery' | 'markDelivery' | 'findSentTo'>;

export class PgDeliveries implements Asynchronous<DeliveryCalls> {
  constructor(
    private readonly pool: Pick<pg.PoolClient, 'query'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The newest send of `line` with sms_no `smsNo` within the window before `now` (a DELIVER report's send). */
  async correlateDelivery(line: string, smsNo: number, windowMs: number, now: number): Promise<Recipient | null> {
    const { rows } = await this.pool.query<RecipientRow>(
      `${SELECT_RECIPIENT} WHERE r.state = 'sent' AND r.line = $1 AND r.sms_no = $2 AND r.sent_at >= $3 ORDER BY r.sent_at DESC LIMIT 1`,
      [line, smsNo, now - windowMs],
    );
    return rows.length === 0 ? null : toRecipient(rows[0]);
  }

  async markDelivery(messageId: string, tpStatus: number, at: number): Promise<Recipient> {
    const { rows } = await this.pool.query<RecipientRow>(
      `UPDATE recipients r SET delivery_state = $2, delivered_at = $3, updated_at = $4 FROM batches b
       WHERE b.seq = r.batch_seq AND r.message_id = $1 AND r.state = 'sent' RETURNING ${COLUMNS}`,
      [messageId, tpStatus, at, this.now()],
    );
    if (rows.length > 0) return toRecipient(rows[0]);
    throw wrongState(await this.require(messageId), 'sent', 'markDelivery');
  }

  /** The send of `line` to `number` nearest to `at` within `windowMs` either side (a +CDS report's send); on a tie the later one. */
  async findSentTo(line: string, number: string, at: number, windowMs: number): Promise<Recipient | null> {
    const { rows } = await this.pool.query<RecipientRow & { sent_at: number }>(
      `${SELECT_RECIPIENT.replace('SELECT ', 'SELECT r.sent_at, ')} WHERE r.state = 'sent' AND r.line = $1 AND r.sent_at BETWEEN $2 AND $3`,
      [line, at - windowMs, at + windowMs],
    );
    let best: (RecipientRow & { sent_at: number }) | null = null;
    for (const row of rows) {
      if (!sameNumber(row.number, number)) continue;
      const distance = Math.abs(row.sent_at - at);
      const bestDistance = best === null ? Number.POSITIVE_INFINITY : Math.abs(best.sent_at - at);
      if (distance < bestDistance || (best !== null && distance === bestDistance && row.sent_at > best.sent_at)) best = row;
    }
    return best === null ? null : toRecipient(best);
  }

  private async require(messageId: string): Promise<Recipient> {
    const { rows } = await this.pool.query<RecipientRow>(`${SELECT_RECIPIENT} WHERE r.message_id = $1`, [messageId]);
    if (rows.length === 0) throw new Error(`outbox: no recipient with messageId ${messageId}`);
    return toRecipient(rows[0]);
  }
}
