/**
 * The operator's side of the SQLite outbox (QueueControl): status counts, cancel, retry, the
 * block list, expiry. Each operation is one transaction of the outbox's connection.
 */
import { BlockList } from './block-list';
import { QUEUE_REASONS } from './failure-reasons';
import { type BatchRow, prepareQueueStatements, type QueueStatements } from './queue-statements';
import type { Connection } from './sqlite-driver';
import {
  type BatchStatus,
  type BlockedNumber,
  type CancelResult,
  PRIORITIES,
  type QueueControl,
  type QueueStatus,
  type QueueTarget,
  type Recipient,
  type RecipientState,
  type StateCounts,
} from './types';

export function emptyCounts(): StateCounts {
  return { queued: 0, claimed: 0, sent: 0, failed: 0, expired: 0, cancelled: 0, blocked: 0 };
}

export class SqliteQueue implements QueueControl {
  private readonly statements: QueueStatements;

  constructor(
    db: Connection,
    private readonly inTransaction: <T>(work: () => T) => T,
    private readonly now: () => number,
    private readonly recipient: (messageId: string) => Recipient,
  ) {
    this.statements = prepareQueueStatements(db);
  }

  status(batchId?: string): QueueStatus | null {
    return this.inTransaction(() => {
      if (batchId === undefined) {
        const batches = this.statements.openBatches.all().map(({ seq }) => this.batchStatus(this.statements.batchBySeq.get(seq)!));
        return { ...tally(this.statements.countsAll.all()), byLine: byLine(this.statements.byLineAll.all()), batches };
      }
      const batch = this.statements.batchById.get(batchId);
      if (batch === undefined) return null;
      return { ...tally(this.statements.countsOfBatch.all(batch.seq)), byLine: byLine(this.statements.byLineOfBatch.all(batch.seq)), batches: [this.batchStatus(batch)] };
    });
  }

  cancel(target: QueueTarget): CancelResult | null {
    return this.inTransaction(() => {
      const end = { state: 'cancelled', reason: QUEUE_REASONS.cancelled, now: this.now() };
      if ('batchId' in target) {
        const batch = this.statements.batchById.get(target.batchId);
        if (batch === undefined) return null;
        const cancelled = this.statements.endQueuedOfBatch.all({ ...end, seq: batch.seq }).map(({ message_id }) => this.recipient(message_id));
        return { cancelled, inFlight: this.statements.claimedInBatch.get(batch.seq)!.n };
      }
      const found = this.statements.recipientState.get(target.messageId);
      if (found === undefined) return null;
      const cancelled = this.statements.endQueued.all({ ...end, messageId: target.messageId }).map(({ message_id }) => this.recipient(message_id));
      return { cancelled, inFlight: found.state === 'claimed' ? 1 : 0 };
    });
  }

  retry(batchId: string): { queued: number; blocked: Recipient[] } | null {
    return this.inTransaction(() => {
      const batch = this.statements.batchById.get(batchId);
      if (batch === undefined) return null;
      const again = this.statements.requeueForRetry.all({ seq: batch.seq, now: this.now() });
      const blocked = this.blockAmong(again);
      return { queued: again.length - blocked.length, blocked };
    });
  }

  block(numbers: readonly string[], source?: { keyword: string; line: string }): Recipient[] {
    return this.inTransaction(() => {
      const list = this.blockList();
      const now = this.now();
      for (const number of numbers) {
        if (list.has(number)) continue;
        this.statements.insertBlocked.run({ number, keyword: source?.keyword ?? null, line: source?.line ?? null, now });
        list.add(number);
      }
      return this.blockAmong(this.statements.queuedNumbers.all(), new BlockList(numbers));
    });
  }

  unblock(numbers: readonly string[]): number {
    return this.inTransaction(() => {
      const list = this.blockList();
      let removed = 0;
      for (const entry of new Set(numbers.flatMap((number) => list.matches(number)))) {
        removed += this.statements.deleteBlocked.run(entry).changes;
      }
      return removed;
    });
  }

  blocked(): BlockedNumber[] {
    return this.statements.blockedAll.all().map((row) => ({ number: row.number, keyword: row.keyword, line: row.line, blockedAt: row.blocked_at }));
  }

  expireDue(): Recipient[] {
    return this.inTransaction(() =>
      this.statements.expireDue.all({ reason: QUEUE_REASONS.expired, now: this.now() }).map(({ message_id }) => this.recipient(message_id)),
    );
  }

  nextTimedAt(): number | null {
    return this.statements.nextTimedAt.get({ now: this.now() })?.at ?? null;
  }

  /** Queued `candidates` whose number is on `list` (default: the stored block list) end blocked; returns them. */
  blockAmong(candidates: ReadonlyArray<{ message_id: string; number: string }>, list: BlockList = this.blockList()): Recipient[] {
    if (list.size === 0) return [];
    const end = { state: 'blocked', reason: QUEUE_REASONS.blocked, now: this.now() };
    return candidates
      .filter(({ number }) => list.has(number))
      .flatMap(({ message_id }) => this.statements.endQueued.all({ ...end, messageId: message_id }))
      .map(({ message_id }) => this.recipient(message_id));
  }

  private blockList(): BlockList {
    return new BlockList(this.statements.blockedAll.all().map((row) => row.number));
  }

  private batchStatus(batch: BatchRow): BatchStatus {
    return {
      batchId: batch.batch_id,
      priority: PRIORITIES[batch.priority],
      sendAt: batch.send_at,
      createdAt: batch.created_at,
      count: batch.recipient_count,
      ...tally(this.statements.countsOfBatch.all(batch.seq)),
    };
  }
}

/** Counts by state, every state present. */
export function tally(rows: ReadonlyArray<{ state: RecipientState; n: number }>): StateCounts {
  const counts = emptyCounts();
  for (const { state, n } of rows) counts[state] = n;
  return counts;
}

/** Counts by line and state. */
export function byLine(rows: ReadonlyArray<{ line: string; state: RecipientState; n: number }>): Record<string, StateCounts> {
  const lines: Record<string, StateCounts> = {};
  for (const { line, state, n } of rows) (lines[line] ??= emptyCounts())[state] = n;
  return lines;
}
