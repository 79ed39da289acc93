/**
 * The durable outbox in one SQLite file, through the driver of ./sqlite-driver.ts (better-sqlite3
 * or node:sqlite, both synchronous). WAL + synchronous=FULL: a method that returned has committed,
 * and the commit survives kill -9 and power loss (commitLater: once its `durable` was told). The tables are in ./schema.ts, the SQL (prepared
 * once per connection) in ./statements.ts; this class is the Outbox's operations over them.
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sameNumber } from '../pdu/numbers';
import { SqliteHeldParts } from './held-parts';
import { SqliteInboxLog } from './inbox-log';
import { SqliteResultLog } from './result-log';
import { type Connection, openConnection, type SqliteDriverName } from './sqlite-driver';
import { migrate } from './schema';
import { SqliteQueue } from './sqlite-queue';
import { prepareStatements, type Statements, toRecipient } from './statements';
import { unroutableReason, unsendableReason } from './failure-reasons';
import { type Durable, UnitTransaction, WalSync } from './wal-sync';
import { type DeferredSync, type NewBatch, NUMBER_LINES_KEPT_MS, type Priority, PRIORITIES, type ReceivingStore, type Recipient, type RecipientState } from './types';

/** A new line starts somewhere in 1..9000, so a wiped store does not replay recent sendids. */
const MAX_FIRST_SEND_ID = 9000;
/** line_sends keeps this much history (the hourly limit's window) ... */
const LINE_SENDS_KEPT_MS = 3600_000;
/** ... pruned once per this many sends. */
const LINE_SENDS_PRUNE_EVERY = 1000;

export interface SqliteOutboxOptions {
  /** Clock for created/updated/sent timestamps (ms epoch); tests pin it. */
  now?: () => number;
}

export class SqliteOutbox implements ReceivingStore, DeferredSync {
  readonly queue: SqliteQueue;
  readonly results: SqliteResultLog;
  private readonly statements: Statements;
  /** Runs `work` in one transaction (rolled back if it throws). */
  private readonly inTransaction: <T>(work: () => T) => T;
  private readonly walSync: WalSync;
  private sendsUntilPrune = 0;
  private readonly unit: UnitTransaction;

  private constructor(
    private readonly db: Connection,
    /** The SQLite driver the store was opened with. */
    readonly driver: SqliteDriverName,
    private readonly now: () => number,
    file: string,
  ) {
    this.statements = prepareStatements(db);
    this.walSync = new WalSync(db, file === ':memory:' ? null : `${file}-wal`);
    const transaction = db.transaction((work: () => unknown) => work());
    this.unit = new UnitTransaction(db, this.walSync, () => (this.statements.totalChanges.get() as { n: number }).n);
    this.inTransaction = <T>(work: () => T) => {
      // Anyone else's transaction commits the send engine's open unit first: it stays its own.
      if (!this.unit.calling) this.unit.commit();
      return transaction(work) as T;
    };
    this.queue = new SqliteQueue(db, this.inTransaction, now, (messageId) => this.require(messageId));
    this.results = new SqliteResultLog(db, this.inTransaction, now);
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
      return new SqliteOutbox(db, driver, options.now ?? Date.now, file);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  enqueue(batch: NewBatch): Recipient[] {
    return this.inTransaction(() => {
      const now = this.now();
      const priority = PRIORITIES.indexOf(batch.priority ?? 'normal');
      const expiresAt = batch.expiresAt ?? null;
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
        priority,
        sendAt: batch.sendAt ?? null,
      })!;
      const failed: Recipient[] = [];
      batch.recipients.forEach(({ messageId, number, group, text, segments, encoding, error, stickyMs }, index) => {
        this.statements.insertRecipient.run({
          messageId, batchSeq: seq, index, number, now, priority, expiresAt, group: group ?? '', text: text ?? null, segments: segments ?? null, encoding: encoding ?? null,
          stickyMs: stickyMs ?? null,
        });
        if (error === undefined) return;
        this.statements.failQueued.run({ messageId, reason: error, now });
        failed.push(this.require(messageId));
      });
      const sendable = batch.recipients.filter((r) => r.error === undefined);
      return [...failed, ...this.queue.blockAmong(sendable.map(({ messageId, number }) => ({ message_id: messageId, number })))];
    });
  }

  claim(
    line: string, sendId: number, firstTelId: number, limit: number, batchId?: string, lowest: Priority = 'low', groups?: readonly string[], text?: string,
    available?: readonly string[],
  ): Recipient[] {
    if (limit <= 0) return [];
    const inGroups = groups === undefined ? null : JSON.stringify(groups);
    const lines = JSON.stringify(available ?? []);
    return this.inTransaction(() => {
      const now = this.now();
      const rank = PRIORITIES.indexOf(lowest);
      const batch =
        batchId === undefined
          ? this.statements.firstClaimableBatch.get({ line, now, lowest: rank, groups: inGroups, available: lines })
          : this.sessionBatch(batchId, line, now, rank, inGroups, lines);
      if (!batch) return [];
      return this.statements.claimableInBatch.all({ seq: batch.seq, line, limit, now, groups: inGroups, text: text ?? null, available: lines }).map(({ message_id }, i) => {
        this.statements.markClaimed.run({ messageId: message_id, line, sendId, telId: firstTelId + i, now });
        return this.require(message_id);
      });
    });
  }

  nextBatch(line: string, groups?: readonly string[], lowest: Priority = 'low'): { batchId: string; text: string } | null {
    const inGroups = groups === undefined ? null : JSON.stringify(groups);
    const batch = this.statements.firstClaimableBatch.get({ line, now: this.now(), lowest: PRIORITIES.indexOf(lowest), groups: inGroups, available: '[]' });
    const row = batch && this.statements.batchBySeq.get(batch.seq);
    return row ? { batchId: row.batch_id, text: batch.text ?? row.text } : null;
  }

  failUnroutable(groups: readonly string[]): Recipient[] {
    return this.inTransaction(() => {
      const now = this.now();
      return this.statements.unroutable.all({ groups: JSON.stringify(groups) }).map(({ message_id, route_group }) => {
        this.statements.failQueued.run({ messageId: message_id, reason: unroutableReason(route_group), now });
        return this.require(message_id);
      });
    });
  }

  sentSince(line: string, since: number): number {
    return this.statements.lineSendsSince.get(line, since)!.n;
  }

  claimedRecipients(): Recipient[] {
    return this.statements.claimedRecipients.all().map(toRecipient);
  }

  markSent(messageId: string, smsNo: number | null, day: string): Recipient {
    return this.inTransaction(() => {
      const recipient = this.require(messageId);
      if (recipient.state === 'sent') return recipient; // a late duplicate OK
      this.expectState(recipient, 'claimed', 'markSent');
      const now = this.now();
      this.statements.markSent.run({ messageId, smsNo, now });
      this.statements.countSent.run(recipient.line, day);
      this.statements.noteNumberLine.run(recipient.number, recipient.line, now);
      this.noteLineSend(recipient.line as string);
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

  sentByLineOn(day: string): ReadonlyMap<string, number> {
    return new Map(this.statements.sentByLineOnDay.all(day).map((row) => [row.line, row.count]));
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
      this.statements.purgeLineSends.run(now - LINE_SENDS_KEPT_MS);
      this.statements.purgeInbox.run(now - olderThanMs);
      this.statements.purgeNumberLines.run(now - NUMBER_LINES_KEPT_MS);
      return changes;
    });
  }

  transaction<T>(work: () => T): T {
    return this.inTransaction(work);
  }

  /** A top-level transaction that returns before the disk has it; `durable` is told once it has. */
  commitLater<T>(work: () => T, durable: Durable): T {
    this.unit.commit();
    return this.walSync.commit(() => this.inTransaction(work), durable);
  }

  /** One call of the send engine's unit of work (./wal-sync.ts UnitTransaction). */
  unsynced<T>(work: () => T): T {
    return this.unit.call(work);
  }

  syncNow(): void {
    this.unit.commit();
    this.walSync.syncNow();
  }

  /** The inbox of received messages in this same file (valid until close()). */
  inbox(): SqliteInboxLog {
    return new SqliteInboxLog(this.db, this.inTransaction);
  }

  /** The parts of long inbound SMS held in this same file (valid until close()). */
  heldParts(): SqliteHeldParts {
    return new SqliteHeldParts(this.db);
  }

  close(): void {
    this.unit.commit();
    this.walSync.close();
    this.db.close();
  }

  private noteLineSend(line: string): void {
    const now = this.now();
    this.statements.noteLineSend.run(line, now);
    if (--this.sendsUntilPrune > 0) return;
    this.sendsUntilPrune = LINE_SENDS_PRUNE_EVERY;
    this.statements.purgeLineSends.run(now - LINE_SENDS_KEPT_MS);
  }

  /**
   * The session's batch while it may go on, undefined while work of higher priority (that this line
   * may send) waits for the line.
   */
  private sessionBatch(batchId: string, line: string, now: number, lowest: number, groups: string | null, available: string): { seq: number } | undefined {
    const batch = this.statements.claimableBatchById.get({ batchId, line, now, lowest });
    if (batch === undefined || batch.priority === 0) return batch;
    return this.statements.firstClaimableBatch.get({ line, now, lowest: batch.priority - 1, groups, available }) === undefined ? batch : undefined;
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

/** `a` is nearer to `at` than `b`; on a tie the later one. */
function nearer(a: number, b: number, at: number): boolean {
  const da = Math.abs(a - at);
  const db = Math.abs(b - at);
  return da < db || (da === db && a > b);
}
