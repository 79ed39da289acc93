/**
 * Any Outbox (the in-memory double or the real SQLite store) as the bulk tests watch it: every
 * claim with whether it is on the disk, syncs that fail on demand, and every recipient.
 */
import type { ResultLog } from '../../src/outbox/types';
import { type DeferredSync, hasDeferredSync, type NewBatch, type Outbox, type Priority, type QueueControl, type Recipient } from '../../src/outbox/types';

export interface Claim {
  line: string;
  sendId: number;
  telId: number;
  messageId: string;
  /** Its commit is on the disk (false until the sync after it; a rolled-back claim is dropped). */
  committed: boolean;
}

export class RecordingOutbox implements Outbox, DeferredSync {
  readonly claims: Claim[] = [];
  /** The next this many syncs after a change fail (what they would have synced is not on the disk). */
  failCommits = 0;
  private readonly messageIds: string[] = [];
  private depth = 0;
  private changed = false;

  constructor(private readonly inner: Outbox) {}

  get queue(): QueueControl {
    return this.inner.queue;
  }

  get results(): ResultLog {
    return this.inner.results;
  }

  enqueue(batch: NewBatch): Recipient[] {
    const blocked = this.inner.enqueue(batch);
    this.messageIds.push(...batch.recipients.map((r) => r.messageId));
    return blocked;
  }

  claim(line: string, sendId: number, firstTelId: number, limit: number, batchId?: string, lowest?: Priority, groups?: readonly string[]): Recipient[] {
    const claimed = this.noteChanges(this.inner.claim(line, sendId, firstTelId, limit, batchId, lowest, groups));
    for (const r of claimed) this.claims.push({ line, sendId, telId: r.telId as number, messageId: r.messageId, committed: this.depth === 0 });
    return claimed;
  }

  nextBatch(line: string, groups?: readonly string[], lowest?: Priority): { batchId: string; text: string } | null {
    return this.inner.nextBatch(line, groups, lowest);
  }

  failUnroutable(groups: readonly string[]): Recipient[] {
    return this.noteChanges(this.inner.failUnroutable(groups));
  }

  sentSince(line: string, since: number): number {
    return this.inner.sentSince(line, since);
  }

  claimedRecipients(): Recipient[] {
    return this.inner.claimedRecipients();
  }

  markSent(messageId: string, smsNo: number | null, day: string): Recipient {
    return this.noteChange(this.inner.markSent(messageId, smsNo, day));
  }

  markFailed(messageId: string, reason: string): Recipient {
    return this.noteChange(this.inner.markFailed(messageId, reason));
  }

  failUnsendable(lines: readonly string[]): Recipient[] {
    return this.noteChanges(this.inner.failUnsendable(lines));
  }

  requeue(messageId: string, excludeLine: string): Recipient {
    return this.noteChange(this.inner.requeue(messageId, excludeLine));
  }

  correlateDelivery(line: string, smsNo: number, windowMs: number, now: number): Recipient | null {
    return this.inner.correlateDelivery(line, smsNo, windowMs, now);
  }

  markDelivery(messageId: string, tpStatus: number, at: number): Recipient {
    return this.noteChange(this.inner.markDelivery(messageId, tpStatus, at));
  }

  findSentTo(line: string, number: string, at: number, windowMs: number): Recipient | null {
    return this.inner.findSentTo(line, number, at, windowMs);
  }

  nextSendId(line: string): number {
    return this.inner.nextSendId(line);
  }

  sentToday(line: string, day: string): number {
    return this.inner.sentToday(line, day);
  }

  sentByLineOn(day: string): ReadonlyMap<string, number> {
    return this.inner.sentByLineOn(day);
  }

  queuedCount(): number {
    return this.inner.queuedCount();
  }

  claimedCount(): number {
    return this.inner.claimedCount();
  }

  get(messageId: string): Recipient | undefined {
    return this.inner.get(messageId);
  }

  purge(olderThanMs: number, now: number): number {
    const purged = this.inner.purge(olderThanMs, now);
    if (purged > 0) this.changed = true;
    return purged;
  }

  transaction<T>(work: () => T): T {
    if (this.depth > 0) return work();
    const claimsBefore = this.claims.length;
    this.depth++;
    try {
      const result = this.inner.transaction(work);
      for (const claim of this.claims.slice(claimsBefore)) claim.committed = true;
      return result;
    } catch (err) {
      this.claims.splice(claimsBefore);
      throw err;
    } finally {
      this.depth--;
    }
  }

  /** A call of the send engine's: committed, on the disk at the next syncNow(). */
  unsynced<T>(work: () => T): T {
    this.depth++;
    try {
      return hasDeferredSync(this.inner) ? this.inner.unsynced(work) : work();
    } finally {
      this.depth--;
    }
  }

  /** Fails on demand while something changed since the last sync; a sync covers every commit before it. */
  syncNow(): void {
    if (this.failCommits > 0 && this.changed) {
      this.failCommits--;
      throw new Error('disk I/O error (injected at commit)');
    }
    if (hasDeferredSync(this.inner)) this.inner.syncNow();
    for (const claim of this.claims) claim.committed = true;
    this.changed = false;
  }

  close(): void {
    this.inner.close();
  }

  /** Every recipient enqueued, in order. */
  all(): Recipient[] {
    return this.messageIds.map((id) => this.inner.get(id)).filter((r): r is Recipient => r !== undefined);
  }

  private noteChanges(recipients: Recipient[]): Recipient[] {
    if (recipients.length > 0) this.changed = true;
    return recipients;
  }

  private noteChange(recipient: Recipient): Recipient {
    this.changed = true;
    return recipient;
  }
}
