/**
 * The send queue on the shared store: batches in, recipients claimed by the instances whose lines
 * send them, and their outcomes. Every call is one statement (one round trip, its own
 * transaction) except enqueue. A claim takes rows with FOR UPDATE SKIP LOCKED, so two instances
 * never claim the same recipient, and only for a line that is registered to this instance
 * (./pg-presence.ts): an instance whose line moved elsewhere claims nothing more for it.
 * Semantics are those of the SQLite store (../sqlite-outbox.ts); the calls are SendStore's.
 */
import { randomInt } from 'node:crypto';
import type pg from 'pg';
import { BlockList } from '../block-list';
import { QUEUE_REASONS, unroutableReason, unsendableReason } from '../failure-reasons';
import { type NewBatch, type Priority, PRIORITIES, type Recipient, type RecipientState, type SendStore } from '../types';
import { inTransaction } from './pg-pool';
import { PgQueueControl } from './pg-queue-control';
import { COLUMNS, type RecipientRow, SELECT_RECIPIENT, toRecipient, wrongState } from './pg-rows';
import { QUEUE_CHANNEL } from './pg-wake';

/** Sendids are positive integers on the wire; a new line starts somewhere in 1..9000 (as the SQLite store). */
const MAX_SEND_ID = 999_999;
const MAX_FIRST_SEND_ID = 9000;

/** A queued recipient `$line` may send now ($now), in the groups $groups (null: any). */
const SENDABLE = `r.state = 'queued' AND NOT r.excluded_lines ? $1 AND (r.expires_at IS NULL OR r.expires_at > $2)
  AND ($3::text[] IS NULL OR r.route_group = ANY ($3::text[]))`;
/** ... in a batch that may go now on $line, of priority $4 or higher. */
const BATCH_OPEN = `(b.line IS NULL OR b.line = $1) AND (b.send_at IS NULL OR b.send_at <= $2) AND r.priority <= $4`;
const FIRST_BATCH = `SELECT r.batch_seq AS seq, r.priority, r.text FROM recipients r JOIN batches b ON b.seq = r.batch_seq
  WHERE ${SENDABLE} AND ${BATCH_OPEN} ORDER BY r.priority, r.batch_seq LIMIT 1`;
/** A sticky recipient whose number's line is another line that may send now ($11) waits for it. */
const NOT_STUCK_ELSEWHERE = `(r.sticky_ms IS NULL OR NOT EXISTS (SELECT 1 FROM number_lines n
  WHERE n.number = r.number AND n.line <> $1 AND n.at >= $2::bigint - r.sticky_ms AND n.line = ANY ($11::text[])))`;
const FIRST_BATCH_TO_CLAIM = `SELECT r.batch_seq AS seq, r.priority, r.text FROM recipients r JOIN batches b ON b.seq = r.batch_seq
  WHERE ${SENDABLE} AND ${BATCH_OPEN} AND ${NOT_STUCK_ELSEWHERE} ORDER BY r.priority, r.batch_seq LIMIT 1`;

/**
 * $1 line, $2 now, $3 groups, $4 lowest priority, $5 instance, $6 sendId, $7 first telId, $8 limit,
 * $9 the session's batchId (null: the first batch the line may send), $10 the session's text, $11 the lines that may send now. A
 * session keeps its batch unless work of higher priority waits for the line. It carries one text,
 * so in a personalised batch it claims only the recipients of its text (without one, of the first).
 */
const CLAIM = `
  WITH first AS (${FIRST_BATCH_TO_CLAIM}),
  session AS (
    SELECT b.seq FROM batches b
    WHERE b.batch_id = $9 AND (b.line IS NULL OR b.line = $1) AND (b.send_at IS NULL OR b.send_at <= $2) AND b.priority <= $4
      AND NOT EXISTS (SELECT 1 FROM first WHERE first.priority < b.priority)
  ),
  target AS (SELECT seq FROM first WHERE $9::text IS NULL UNION ALL SELECT seq FROM session),
  session_text AS (
    SELECT COALESCE($10::text, (SELECT r.text FROM recipients r WHERE r.batch_seq = (SELECT seq FROM target LIMIT 1) AND ${SENDABLE} AND ${NOT_STUCK_ELSEWHERE} ORDER BY r.idx LIMIT 1)) AS text
  ),
  picked AS (
    SELECT r.message_id, r.idx FROM recipients r
    WHERE r.batch_seq = (SELECT seq FROM target LIMIT 1) AND ${SENDABLE} AND (r.text IS NULL OR r.text = (SELECT text FROM session_text)) AND ${NOT_STUCK_ELSEWHERE}
      AND EXISTS (SELECT 1 FROM line_presence p WHERE p.line = $1 AND p.instance = $5)
    ORDER BY r.idx LIMIT $8
    FOR UPDATE SKIP LOCKED
  ),
  numbered AS (SELECT message_id, row_number() OVER (ORDER BY idx) - 1 AS n FROM picked)
  UPDATE recipients r
  SET state = 'claimed', line = $1, send_id = $6, tel_id = $7 + numbered.n, attempts = r.attempts + 1, updated_at = $2
  FROM numbered, batches b
  WHERE r.message_id = numbered.message_id AND b.seq = r.batch_seq
  RETURNING ${COLUMNS}`;

export interface PgQueueOptions {
  /** This instance's name in the cluster: it claims only for lines registered to it. */
  instance: string;
  /** How long an instance's last renewal counts (./pg-presence.ts). */
  leaseMs: number;
  now?: () => number;
}

/** The lines (or groups) of `$1`, and those of every other instance whose lease holds ($2 this instance, $3 now, $4 lease). */
const CLUSTER_LINES = `SELECT unnest($1::text[]) UNION SELECT unnest(lines) FROM instances WHERE instance <> $2 AND renewed_at >= $3::bigint - $4::bigint`;
const CLUSTER_GROUPS = `SELECT unnest($1::text[]) UNION SELECT unnest(groups) FROM instances WHERE instance <> $2 AND renewed_at >= $3::bigint - $4::bigint`;

export class PgQueue implements SendStore {
  private readonly pool: pg.Pool;
  private readonly instance: string;
  private readonly leaseMs: number;
  private readonly now: () => number;
  private readonly control: PgQueueControl;

  constructor(pool: pg.Pool, options: PgQueueOptions) {
    this.pool = pool;
    this.instance = options.instance;
    this.leaseMs = options.leaseMs;
    this.now = options.now ?? Date.now;
    this.control = new PgQueueControl(pool, this.now);
  }

  /** The batch and its recipients in one transaction; recipients whose number is on the block list end blocked (returned). */
  async enqueue(batch: NewBatch): Promise<Recipient[]> {
    const now = this.now();
    const priority = PRIORITIES.indexOf(batch.priority ?? 'normal');
    return inTransaction(this.pool, async (client) => {
      const listed = await client.query<{ number: string }>('SELECT number FROM blocked_numbers');
      const list = new BlockList(listed.rows.map((row) => row.number));
      const blocked = batch.recipients.map(({ number }) => list.size > 0 && list.has(number));
      await client.query(
        `WITH b AS (
          INSERT INTO batches (batch_id, text, line, node_id, meta, segments, encoding, recipient_count, created_at, priority, send_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq)
        INSERT INTO recipients (message_id, batch_seq, idx, number, state, error, updated_at, priority, expires_at, route_group, text, segments, encoding, sticky_ms)
        SELECT n.message_id, b.seq, n.i - 1, n.number, CASE WHEN n.failure IS NOT NULL THEN 'failed' WHEN n.blocked THEN 'blocked' ELSE 'queued' END,
               CASE WHEN n.failure IS NOT NULL THEN n.failure WHEN n.blocked THEN $16 END, $9, $10, $12, n.grp, n.own_text, n.own_segments, n.own_encoding, n.sticky_ms
        FROM b, unnest($13::text[], $14::text[], $15::text[], $17::boolean[], $18::text[], $19::integer[], $20::text[], $21::text[], $22::bigint[])
          WITH ORDINALITY AS n(message_id, number, grp, blocked, own_text, own_segments, own_encoding, failure, sticky_ms, i)`,
        [
          batch.batchId, batch.text, batch.line, batch.nodeId, JSON.stringify(batch.meta), batch.segments, batch.encoding,
          batch.recipients.length, now, priority, batch.sendAt ?? null, batch.expiresAt ?? null,
          batch.recipients.map((r) => r.messageId), batch.recipients.map((r) => r.number), batch.recipients.map((r) => r.group ?? ''),
          QUEUE_REASONS.blocked, blocked, batch.recipients.map((r) => r.text ?? null), batch.recipients.map((r) => r.segments ?? null),
          batch.recipients.map((r) => r.encoding ?? null), batch.recipients.map((r) => r.error ?? null), batch.recipients.map((r) => r.stickyMs ?? null),
        ],
      );
      // Delivered at the commit: every instance's engine looks for work at once (./pg-wake.ts).
      await client.query(`SELECT pg_notify('${QUEUE_CHANNEL}', current_schema())`);
      const ended = batch.recipients.filter((r, i) => r.error !== undefined || blocked[i]);
      if (ended.length === 0) return [];
      const ids = ended.map((r) => r.messageId);
      const rows = await client.query<RecipientRow>(`${SELECT_RECIPIENT} WHERE r.message_id = ANY ($1::text[]) ORDER BY r.idx`, [ids]);
      return rows.rows.map(toRecipient);
    });
  }

  async claim(
    line: string, sendId: number, firstTelId: number, limit: number, batchId?: string, lowest: Priority = 'low', groups?: readonly string[], text?: string,
    available?: readonly string[],
  ): Promise<Recipient[]> {
    if (limit <= 0) return [];
    const { rows } = await this.pool.query<RecipientRow>(CLAIM, [
      line, this.now(), groups ?? null, PRIORITIES.indexOf(lowest), this.instance, sendId, firstTelId, limit, batchId ?? null, text ?? null, available ?? [],
    ]);
    return rows.map(toRecipient).sort((a, b) => (a.telId ?? 0) - (b.telId ?? 0));
  }

  async nextBatch(line: string, groups?: readonly string[], lowest: Priority = 'low'): Promise<{ batchId: string; text: string } | null> {
    const { rows } = await this.pool.query<{ batch_id: string; text: string }>(
      `SELECT b.batch_id, COALESCE(f.text, b.text) AS text FROM (${FIRST_BATCH}) f JOIN batches b ON b.seq = f.seq`,
      [line, this.now(), groups ?? null, PRIORITIES.indexOf(lowest)],
    );
    return rows.length === 0 ? null : { batchId: rows[0].batch_id, text: rows[0].text };
  }

  /**
   * Queued recipients of routing groups that none of `groups` is, nor a group of another live
   * instance: failed, with the reason (the reason names this instance's view).
   */
  async failUnroutable(groups: readonly string[]): Promise<Recipient[]> {
    return this.failQueued(`r.route_group NOT IN (${CLUSTER_GROUPS})`, [groups], (row) => unroutableReason(row.route_group));
  }

  /**
   * Queued recipients that none of `lines`, nor a line of another live instance, may send (pinned
   * elsewhere, or every one of them excluded): failed.
   */
  async failUnsendable(lines: readonly string[]): Promise<Recipient[]> {
    if (lines.length === 0) return [];
    return this.failQueued(
      `((b.line IS NOT NULL AND b.line NOT IN (${CLUSTER_LINES}))
        OR NOT EXISTS (SELECT 1 FROM (${CLUSTER_LINES}) l(line) WHERE NOT r.excluded_lines ? l.line))`,
      [lines],
      (row) => unsendableReason(row.pinned_line, lines),
    );
  }

  /** Queued recipients past their expiry end expired (the operator queue's own call). */
  expireDue(): Promise<Recipient[]> {
    return this.control.expireDue();
  }

  /** When the queue changes by itself next: a queued recipient expires or a scheduled batch may go. */
  nextTimedAt(): Promise<number | null> {
    return this.control.nextTimedAt();
  }

  /** Each call commits on its own (synchronous_commit): once it resolved it is on the server's disk. */
  async durable(): Promise<void> {}

  async nextSendId(line: string): Promise<number> {
    const { rows } = await this.pool.query<{ last: number }>(
      `INSERT INTO send_ids (line, last) VALUES ($1, $2)
       ON CONFLICT (line) DO UPDATE SET last = send_ids.last % ${MAX_SEND_ID} + 1 RETURNING last`,
      [line, randomInt(1, MAX_FIRST_SEND_ID + 1)],
    );
    return rows[0].last;
  }

  /** Sent: counted for its line's day and hour in the same statement. A late duplicate OK returns it as it is. */
  async markSent(messageId: string, smsNo: number | null, day: string): Promise<Recipient> {
    const now = this.now();
    const { rows } = await this.pool.query<RecipientRow>(
      `WITH sent AS (
        UPDATE recipients r SET state = 'sent', sms_no = $2, sent_at = $3, updated_at = $3
        FROM batches b WHERE b.seq = r.batch_seq AND r.message_id = $1 AND r.state = 'claimed'
        RETURNING ${COLUMNS}),
      usage AS (
        INSERT INTO line_usage (line, day, count) SELECT line, $4, 1 FROM sent
        ON CONFLICT (line, day) DO UPDATE SET count = line_usage.count + 1),
      sends AS (INSERT INTO line_sends (line, at) SELECT line, $3 FROM sent),
      number_line AS (
        INSERT INTO number_lines (number, line, at) SELECT number, line, $3 FROM sent
        ON CONFLICT (number) DO UPDATE SET line = excluded.line, at = excluded.at)
      SELECT * FROM sent`,
      [messageId, smsNo, now, day],
    );
    if (rows.length > 0) return toRecipient(rows[0]);
    const recipient = await this.require(messageId);
    if (recipient.state === 'sent') return recipient;
    throw wrongState(recipient, 'claimed', 'markSent');
  }

  async markFailed(messageId: string, reason: string): Promise<Recipient> {
    return this.fromClaimed(messageId, 'markFailed', `state = 'failed', error = $2, updated_at = $3`, [reason]);
  }

  /** Queued again for another line: `excludeLine` joins its excluded lines. */
  async requeue(messageId: string, excludeLine: string): Promise<Recipient> {
    return this.fromClaimed(
      messageId,
      'requeue',
      `state = 'queued', line = NULL, send_id = NULL, tel_id = NULL, updated_at = $3,
       excluded_lines = CASE WHEN r.excluded_lines ? $2 THEN r.excluded_lines ELSE r.excluded_lines || to_jsonb($2::text) END`,
      [excludeLine],
    );
  }

  /** The claimed recipients of this instance's lines, by line, sendid and telid (what a start resumes). */
  async claimedRecipients(): Promise<Recipient[]> {
    const { rows } = await this.pool.query<RecipientRow>(
      `${SELECT_RECIPIENT} JOIN line_presence p ON p.line = r.line AND p.instance = $1
       WHERE r.state = 'claimed' ORDER BY r.line, r.send_id, r.tel_id`,
      [this.instance],
    );
    return rows.map(toRecipient);
  }

  async get(messageId: string): Promise<Recipient | undefined> {
    const { rows } = await this.pool.query<RecipientRow>(`${SELECT_RECIPIENT} WHERE r.message_id = $1`, [messageId]);
    return rows.length === 0 ? undefined : toRecipient(rows[0]);
  }

  async queuedCount(): Promise<number> {
    return this.count('queued');
  }

  async claimedCount(): Promise<number> {
    return this.count('claimed');
  }

  async sentToday(line: string, day: string): Promise<number> {
    const { rows } = await this.pool.query<{ count: number }>('SELECT count FROM line_usage WHERE line = $1 AND day = $2', [line, day]);
    return rows[0]?.count ?? 0;
  }

  async sentByLineOn(day: string): Promise<ReadonlyMap<string, number>> {
    const { rows } = await this.pool.query<{ line: string; count: number }>('SELECT line, count FROM line_usage WHERE day = $1', [day]);
    return new Map(rows.map((row) => [row.line, row.count]));
  }

  async sentSince(line: string, since: number): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM line_sends WHERE line = $1 AND at >= $2', [line, since]);
    return rows[0].n;
  }

  /** The queued recipients `where` selects ($1 `value`, $2 this instance, $3 now, $4 lease), failed with their reason, in one transaction. */
  private async failQueued(where: string, [value]: [unknown], reason: (row: RecipientRow) => string): Promise<Recipient[]> {
    const now = this.now();
    return inTransaction(this.pool, async (client) => {
      const found = await client.query<RecipientRow>(`${SELECT_RECIPIENT} WHERE r.state = 'queued' AND ${where} FOR UPDATE OF r SKIP LOCKED`, [
        value, this.instance, now, this.leaseMs,
      ]);
      if (found.rows.length === 0) return [];
      const reasons = found.rows.map(reason);
      await client.query(
        `UPDATE recipients r SET state = 'failed', error = f.reason, updated_at = $3
         FROM unnest($1::text[], $2::text[]) AS f(message_id, reason) WHERE r.message_id = f.message_id`,
        [found.rows.map((row) => row.message_id), reasons, now],
      );
      return found.rows.map((row, i) => toRecipient({ ...row, state: 'failed', error: reasons[i], updated_at: now }));
    });
  }

  private async count(state: RecipientState): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients WHERE state = $1', [state]);
    return rows[0].n;
  }

  /** `set` ($2.. its values, $3 now) applied to a claimed recipient; another state is an error. */
  private async fromClaimed(messageId: string, operation: string, set: string, values: unknown[]): Promise<Recipient> {
    const { rows } = await this.pool.query<RecipientRow>(
      `UPDATE recipients r SET ${set} FROM batches b
       WHERE b.seq = r.batch_seq AND r.message_id = $1 AND r.state = 'claimed' RETURNING ${COLUMNS}`,
      [messageId, ...values, this.now()],
    );
    if (rows.length > 0) return toRecipient(rows[0]);
    throw wrongState(await this.require(messageId), 'claimed', operation);
  }

  private async require(messageId: string): Promise<Recipient> {
    const recipient = await this.get(messageId);
    if (recipient === undefined) throw new Error(`outbox: no recipient with messageId ${messageId}`);
    return recipient;
  }
}
