/**
 * The durable outbox in one SQLite file, through the driver of ./sqlite-driver.ts (better-sqlite3
 * or node:sqlite, both synchronous). WAL + synchronous=FULL: a method that returned has committed,
 * and the commit survives kill -9 and power loss.
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sameNumber } from '../pdu/numbers';
import { type Connection, openConnection, type SqliteDriverName } from './sqlite-driver';
import type { NewBatch, Outbox, Recipient, RecipientState } from './types';

/** MIGRATIONS[n] takes a store from user_version n to n + 1. Append, never edit a shipped one. */
const MIGRATIONS = [
  `
  CREATE TABLE batches (
    seq INTEGER PRIMARY KEY,            -- enqueue order: claim() takes the oldest batch first
    batch_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    line TEXT,
    node_id TEXT NOT NULL,
    meta TEXT NOT NULL,
    segments INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    recipient_count INTEGER NOT NULL,   -- msg.parts.count, stable even after a partial purge
    created_at INTEGER NOT NULL
  );
  CREATE TABLE recipients (
    message_id TEXT PRIMARY KEY,
    batch_seq INTEGER NOT NULL REFERENCES batches (seq),
    idx INTEGER NOT NULL,
    number TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'sent', 'failed')),
    line TEXT,
    send_id INTEGER,
    tel_id INTEGER,
    sms_no INTEGER,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    excluded_lines TEXT NOT NULL DEFAULT '[]',
    delivery_state INTEGER,
    delivered_at INTEGER,
    sent_at INTEGER,
    updated_at INTEGER NOT NULL,
    UNIQUE (batch_seq, idx)
  );
  -- claim (queued in batch order), resume (claimed), the counts and purge
  CREATE INDEX recipients_by_state ON recipients (state, batch_seq, idx);
  -- delivery correlation
  CREATE INDEX recipients_sent_by_sms_no ON recipients (line, sms_no, sent_at) WHERE state = 'sent';
  CREATE TABLE line_usage (
    line TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (line, day)
  ) WITHOUT ROWID;
  CREATE TABLE send_ids (
    line TEXT PRIMARY KEY,
    last INTEGER NOT NULL               -- the sendId handed out last
  ) WITHOUT ROWID;
  `,
];

/** Sendids are positive integers on the wire; keep them below a million. */
const MAX_SEND_ID = 999_999;
/** A new line starts somewhere in 1..9000, so a wiped store does not replay recent sendids. */
const MAX_FIRST_SEND_ID = 9000;

interface RecipientRow {
  message_id: string;
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
  delivery_state: number | null;
  delivered_at: number | null;
  updated_at: number;
}

const SELECT_RECIPIENT = `
  SELECT r.message_id, b.batch_id, r.idx, b.recipient_count, r.number, b.text, b.line AS pinned_line,
         b.node_id, b.meta, b.segments, b.encoding, r.state, r.line, r.send_id, r.tel_id, r.sms_no,
         r.error, r.attempts, r.excluded_lines, r.delivery_state, r.delivered_at, r.updated_at
  FROM recipients r JOIN batches b ON b.seq = r.batch_seq`;

/** `line` is not in the recipient's excluded_lines (a JSON array). */
const NOT_EXCLUDED = `NOT EXISTS (SELECT 1 FROM json_each(r.excluded_lines) WHERE value = @line)`;

function toRecipient(row: RecipientRow): Recipient {
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
    deliveryState: row.delivery_state,
    deliveredAt: row.delivered_at,
    updatedAt: row.updated_at,
  };
}

function prepareStatements(db: Connection) {
  return {
    insertBatch: db.prepare<{ seq: number }>(`
      INSERT INTO batches (batch_id, text, line, node_id, meta, segments, encoding, recipient_count, created_at)
      VALUES (@batchId, @text, @line, @nodeId, @meta, @segments, @encoding, @recipientCount, @now)
      RETURNING seq`),
    insertRecipient: db.prepare(`
      INSERT INTO recipients (message_id, batch_seq, idx, number, state, updated_at)
      VALUES (@messageId, @batchSeq, @index, @number, 'queued', @now)`),
    recipientById: db.prepare<RecipientRow>(`${SELECT_RECIPIENT} WHERE r.message_id = ?`),
    claimedRecipients: db.prepare<RecipientRow>(
      `${SELECT_RECIPIENT} WHERE r.state = 'claimed' ORDER BY r.line, r.send_id, r.tel_id`,
    ),
    oldestClaimableBatch: db.prepare<{ seq: number }>(`
      SELECT r.batch_seq AS seq FROM recipients r JOIN batches b ON b.seq = r.batch_seq
      WHERE r.state = 'queued' AND (b.line IS NULL OR b.line = @line) AND ${NOT_EXCLUDED}
      ORDER BY r.batch_seq LIMIT 1`),
    claimableBatchById: db.prepare<{ seq: number }>(
      `SELECT seq FROM batches WHERE batch_id = @batchId AND (line IS NULL OR line = @line)`,
    ),
    claimableInBatch: db.prepare<{ message_id: string }>(`
      SELECT r.message_id FROM recipients r
      WHERE r.state = 'queued' AND r.batch_seq = @seq AND ${NOT_EXCLUDED}
      ORDER BY r.idx LIMIT @limit`),
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
    latestSentBySmsNo: db.prepare<{ message_id: string }>(`
      SELECT message_id FROM recipients
      WHERE state = 'sent' AND line = @line AND sms_no = @smsNo AND sent_at >= @since
      ORDER BY sent_at DESC LIMIT 1`),
    sentInWindow: db.prepare<{ message_id: string; number: string; sent_at: number }>(`
      SELECT message_id, number, sent_at FROM recipients
      WHERE state = 'sent' AND line = @line AND sent_at BETWEEN @from AND @to`),
    markDelivery: db.prepare(`
      UPDATE recipients SET delivery_state = @tpStatus, delivered_at = @at, updated_at = @now WHERE message_id = @messageId`),
    nextSendId: db.prepare<{ last: number }>(`
      INSERT INTO send_ids (line, last) VALUES (@line, @first)
      ON CONFLICT (line) DO UPDATE SET last = last % ${MAX_SEND_ID} + 1
      RETURNING last`),
    sentOnDay: db.prepare<{ count: number }>(`SELECT count FROM line_usage WHERE line = ? AND day = ?`),
    countSent: db.prepare(`
      INSERT INTO line_usage (line, day, count) VALUES (?, ?, 1)
      ON CONFLICT (line, day) DO UPDATE SET count = count + 1`),
    countInState: db.prepare<{ n: number }>(`SELECT COUNT(*) AS n FROM recipients WHERE state = ?`),
    purgeRecipients: db.prepare(`
      DELETE FROM recipients WHERE state IN ('sent', 'failed') AND updated_at < ?`),
    purgeEmptyBatches: db.prepare(`
      DELETE FROM batches WHERE NOT EXISTS (SELECT 1 FROM recipients r WHERE r.batch_seq = batches.seq)`),
  };
}

export interface SqliteOutboxOptions {
  /** Clock for created/updated/sent timestamps (ms epoch); tests pin it. */
  now?: () => number;
}

export class SqliteOutbox implements Outbox {
  private readonly statements: ReturnType<typeof prepareStatements>;
  /** Runs `work` in one transaction (rolled back if it throws). */
  private readonly inTransaction: <T>(work: () => T) => T;

  private constructor(
    private readonly db: Connection,
    /** The SQLite driver the store was opened with. */
    readonly driver: SqliteDriverName,
    private readonly now: () => number,
  ) {
    this.statements = prepareStatements(db);
    const transaction = db.transaction((work: () => unknown) => work());
    this.inTransaction = <T>(work: () => T) => transaction(work) as T;
  }

  /**
   * Opens (or creates, with its parent directories) the store at `file`; ':memory:' for tests.
   * Throws SqliteUnavailableError when neither SQLite driver loads.
   */
  static open(file: string, options: SqliteOutboxOptions = {}): SqliteOutbox {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const { driver, db } = openConnection(file);
    try {
      db.pragma('journal_mode = WAL', { simple: true });
      db.pragma('synchronous = FULL', { simple: true });
      db.pragma('foreign_keys = ON', { simple: true });
      migrate(db);
      return new SqliteOutbox(db, driver, options.now ?? Date.now);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  enqueue(batch: NewBatch): void {
    this.inTransaction(() => {
      const now = this.now();
      const { seq } = this.statements.insertBatch.get({
        batchId: batch.batchId,
        text: batch.text,
        line: batch.line,
        nodeId: batch.nodeId,
        meta: JSON.stringify(batch.meta),
        segments: batch.segments,
        encoding: batch.encoding,
        recipientCount: batch.recipients.length,
        now,
      })!;
      batch.recipients.forEach(({ messageId, number }, index) => {
        this.statements.insertRecipient.run({ messageId, batchSeq: seq, index, number, now });
      });
    });
  }

  claim(line: string, sendId: number, firstTelId: number, limit: number, batchId?: string): Recipient[] {
    if (limit <= 0) return [];
    return this.inTransaction(() => {
      const batch =
        batchId === undefined
          ? this.statements.oldestClaimableBatch.get({ line })
          : this.statements.claimableBatchById.get({ batchId, line });
      if (!batch) return [];
      const now = this.now();
      return this.statements.claimableInBatch.all({ seq: batch.seq, line, limit }).map(({ message_id }, i) => {
        this.statements.markClaimed.run({ messageId: message_id, line, sendId, telId: firstTelId + i, now });
        return this.require(message_id);
      });
    });
  }

  claimedRecipients(): Recipient[] {
    return this.statements.claimedRecipients.all().map(toRecipient);
  }

  markSent(messageId: string, smsNo: number | null, day: string): Recipient {
    return this.inTransaction(() => {
      const recipient = this.require(messageId);
      if (recipient.state === 'sent') return recipient; // a late duplicate OK
      this.expectState(recipient, 'claimed', 'markSent');
      this.statements.markSent.run({ messageId, smsNo, now: this.now() });
      this.statements.countSent.run(recipient.line, day);
      return this.require(messageId);
    });
  }

  markFailed(messageId: string, reason: string): Recipient {
    return this.inTransaction(() => {
      this.expectState(this.require(messageId), 'claimed', 'markFailed');
      this.statements.markFailed.run({ messageId, reason, now: this.now() });
      return this.require(messageId);
    });
  }

  failUnsendable(lines: readonly string[]): Recipient[] {
    if (lines.length === 0) return [];
    return this.inTransaction(() => {
      const now = this.now();
      return this.statements.unsendable.all({ lines: JSON.stringify(lines) }).map(({ message_id, pinned_line }) => {
        this.statements.failQueued.run({ messageId: message_id, reason: unsendableReason(pinned_line, lines), now });
        return this.require(message_id);
      });
    });
  }

  requeue(messageId: string, excludeLine: string): Recipient {
    return this.inTransaction(() => {
      const recipient = this.require(messageId);
      this.expectState(recipient, 'claimed', 'requeue');
      const excluded = new Set(recipient.excludedLines).add(excludeLine);
      this.statements.requeue.run({ messageId, excludedLines: JSON.stringify([...excluded]), now: this.now() });
      return this.require(messageId);
    });
  }

  correlateDelivery(line: string, smsNo: number, windowMs: number, now: number): Recipient | null {
    const match = this.statements.latestSentBySmsNo.get({ line, smsNo, since: now - windowMs });
    return match ? this.require(match.message_id) : null;
  }

  markDelivery(messageId: string, tpStatus: number, at: number): Recipient {
    return this.inTransaction(() => {
      this.expectState(this.require(messageId), 'sent', 'markDelivery');
      this.statements.markDelivery.run({ messageId, tpStatus, at, now: this.now() });
      return this.require(messageId);
    });
  }

  findSentTo(line: string, number: string, at: number, windowMs: number): Recipient | null {
    let best: { message_id: string; sent_at: number } | null = null;
    for (const row of this.statements.sentInWindow.all({ line, from: at - windowMs, to: at + windowMs })) {
      if (!sameNumber(row.number, number)) continue;
      if (best === null || nearer(row.sent_at, best.sent_at, at)) best = row;
    }
    return best === null ? null : this.require(best.message_id);
  }

  nextSendId(line: string): number {
    return this.statements.nextSendId.get({ line, first: randomInt(1, MAX_FIRST_SEND_ID + 1) })!.last;
  }

  sentToday(line: string, day: string): number {
    return this.statements.sentOnDay.get(line, day)?.count ?? 0;
  }

  queuedCount(): number {
    return this.statements.countInState.get('queued')!.n;
  }

  claimedCount(): number {
    return this.statements.countInState.get('claimed')!.n;
  }

  get(messageId: string): Recipient | undefined {
    const row = this.statements.recipientById.get(messageId);
    return row && toRecipient(row);
  }

  purge(olderThanMs: number, now: number): number {
    return this.inTransaction(() => {
      const { changes } = this.statements.purgeRecipients.run(now - olderThanMs);
      this.statements.purgeEmptyBatches.run();
      return changes;
    });
  }

  transaction<T>(work: () => T): T {
    return this.inTransaction(work);
  }

  close(): void {
    this.db.close();
  }

  private require(messageId: string): Recipient {
    const recipient = this.get(messageId);
    if (!recipient) throw new Error(`outbox: no recipient with messageId ${messageId}`);
    return recipient;
  }

  private expectState(recipient: Recipient, expected: RecipientState, operation: string): void {
    if (recipient.state !== expected) {
      throw new Error(`outbox: ${operation}(${recipient.messageId}) needs a ${expected} recipient, it is ${recipient.state}`);
    }
  }
}

/** Why a queued recipient cannot go (Outbox.failUnsendable). */
export function unsendableReason(pinnedLine: string | null, lines: readonly string[]): string {
  return pinnedLine !== null && !lines.includes(pinnedLine)
    ? `line ${pinnedLine} is no longer configured (batch pinned to it)`
    : 'no configured line left that has not tried it';
}

/** `a` is nearer to `at` than `b`; on a tie the later one. */
function nearer(a: number, b: number, at: number): boolean {
  const da = Math.abs(a - at);
  const db = Math.abs(b - at);
  return da < db || (da === db && a > b);
}

/** Brings the schema to the newest version; refuses a store written by a newer version. */
function migrate(db: Connection): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`outbox: store schema version ${version} is newer than this version knows (${MIGRATIONS.length})`);
  }
  db.transaction(() => {
    for (let next = version; next < MIGRATIONS.length; next++) db.exec(MIGRATIONS[next]);
    db.pragma(`user_version = ${MIGRATIONS.length}`, { simple: true });
  })();
}
