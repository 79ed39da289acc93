/** QueueControl of the in-memory outbox double (./memory-outbox.ts), following src/outbox/types.ts. */
import { BlockList } from '../../src/outbox/block-list';
import { QUEUE_REASONS } from '../../src/outbox/failure-reasons';
import { emptyCounts } from '../../src/outbox/sqlite-queue';
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
} from '../../src/outbox/types';

export interface QueueRecord extends Recipient {
  batchSeq: number;
  /** Index in PRIORITIES. */
  priority: number;
  sendAt: number | null;
  expiresAt: number | null;
  createdAt: number;
  /** The flow took its result (src/outbox/result-log.ts). */
  resultOut: boolean;
}

export class MemoryQueue implements QueueControl {
  blockedNumbers = new Map<string, BlockedNumber>();

  constructor(
    private readonly records: () => Iterable<QueueRecord>,
    private readonly now: () => number,
    private readonly view: (record: QueueRecord) => Recipient,
  ) {}

  status(batchId?: string): QueueStatus | null {
    const all = [...this.records()];
    const chosen = batchId === undefined ? all : all.filter((r) => r.batchId === batchId);
    if (batchId !== undefined && chosen.length === 0) return null;
    const byLine: Record<string, StateCounts> = {};
    for (const r of chosen) if (r.line !== null) (byLine[r.line] ??= emptyCounts())[r.state]++;
    const seqs = [...new Set(chosen.filter((r) => batchId !== undefined || r.state === 'queued' || r.state === 'claimed').map((r) => r.batchSeq))];
    const batches = seqs.sort((a, b) => a - b).map((seq) => batchStatus(all.filter((r) => r.batchSeq === seq)));
    return { ...count(chosen), byLine, batches };
  }

  cancel(target: QueueTarget): CancelResult | null {
    const chosen = [...this.records()].filter((r) => ('batchId' in target ? r.batchId === target.batchId : r.messageId === target.messageId));
    if (chosen.length === 0) return null;
    const cancelled = chosen.filter((r) => r.state === 'queued').map((r) => this.end(r, 'cancelled'));
    return { cancelled, inFlight: chosen.filter((r) => r.state === 'claimed').length };
  }

  retry(batchId: string): { queued: number; blocked: Recipient[] } | null {
    const chosen = [...this.records()].filter((r) => r.batchId === batchId);
    if (chosen.length === 0) return null;
    const again = chosen.filter((r) => r.state === 'failed' || r.state === 'expired');
    for (const r of again) {
      Object.assign(r, { state: 'queued', error: null, line: null, sendId: null, telId: null, smsNo: null, excludedLines: [], expiresAt: null, resultOut: false, updatedAt: this.now() });
    }
    const blocked = this.blockAmong(again);
    return { queued: again.length - blocked.length, blocked };
  }

  block(numbers: readonly string[], source?: { keyword: string; line: string }): Recipient[] {
    const list = this.list();
    for (const number of numbers) {
      if (list.has(number)) continue;
      this.blockedNumbers.set(number, { number, keyword: source?.keyword ?? null, line: source?.line ?? null, blockedAt: this.now() });
      list.add(number);
    }
    return this.blockAmong([...this.records()], new BlockList(numbers));
  }

  unblock(numbers: readonly string[]): number {
    const list = this.list();
    const entries = new Set(numbers.flatMap((number) => list.matches(number)));
    for (const entry of entries) this.blockedNumbers.delete(entry);
    return entries.size;
  }

  blocked(): BlockedNumber[] {
    return [...this.blockedNumbers.values()].sort((a, b) => a.blockedAt - b.blockedAt || a.number.localeCompare(b.number));
  }

  expireDue(): Recipient[] {
    const now = this.now();
    return [...this.records()].filter((r) => r.state === 'queued' && r.expiresAt !== null && r.expiresAt <= now).map((r) => this.end(r, 'expired'));
  }

  nextTimedAt(): number | null {
    const now = this.now();
    const times: number[] = [];
    for (const r of this.records()) {
      if (r.state !== 'queued') continue;
      if (r.expiresAt !== null) times.push(r.expiresAt);
      if (r.sendAt !== null && r.sendAt > now) times.push(r.sendAt);
    }
    return times.length === 0 ? null : Math.min(...times);
  }

  /** Queued `candidates` whose number is on `list` (default: the block list) end blocked. */
  blockAmong(candidates: readonly QueueRecord[], list: BlockList = this.list()): Recipient[] {
    return candidates.filter((r) => r.state === 'queued' && list.has(r.number)).map((r) => this.end(r, 'blocked'));
  }

  private list(): BlockList {
    return new BlockList(this.blockedNumbers.keys());
  }

  private end(r: QueueRecord, state: 'expired' | 'cancelled' | 'blocked'): Recipient {
    Object.assign(r, { state, error: QUEUE_REASONS[state], updatedAt: this.now() });
    return this.view(r);
  }
}

function count(records: readonly QueueRecord[]): StateCounts {
  const counts = emptyCounts();
  for (const r of records) counts[r.state as RecipientState]++;
  return counts;
}

function batchStatus(records: readonly QueueRecord[]): BatchStatus {
  const first = records[0];
  return { batchId: first.batchId, priority: PRIORITIES[first.priority], sendAt: first.sendAt, createdAt: first.createdAt, count: first.count, ...count(records) };
}
