/**
 * An Outbox in memory that follows src/outbox/types.ts to the letter (tests of the bulk engine).
 * Operations on a recipient in the wrong state throw, like the SQLite store.
 */
import { type NewBatch, type Outbox, type Priority, PRIORITIES, type Recipient, type RecipientState } from '../../src/outbox/types';
import { unroutableReason, unsendableReason } from '../../src/outbox/failure-reasons';
import { sameNumber } from '../../src/pdu/numbers';
import { MemoryQueue, type QueueRecord } from './memory-queue';
import { MemoryResultLog } from './memory-result-log';

interface Stored extends QueueRecord {
  sentAt: number | null;
}

export class MemoryOutbox implements Outbox {
  private recipients = new Map<string, Stored>();
  /** Like a sequence: never rolled back, so a sendId of a failed commit is not handed out again. */
  private readonly sendIds = new Map<string, number>();
  private usage = new Map<string, number>();
  private lineSends: Array<{ line: string; at: number }> = [];
  private batchSeq = 0;
  private depth = 0;

  readonly queue: MemoryQueue;
  readonly results: MemoryResultLog;

  constructor(private readonly now: () => number = Date.now) {
    this.queue = new MemoryQueue(() => this.recipients.values(), now, (r) => this.view(r as Stored));
    this.results = new MemoryResultLog(() => this.recipients.values(), (r) => this.view(r as Stored));
  }

  enqueue(batch: NewBatch): Recipient[] {
    const seq = ++this.batchSeq;
    const now = this.now();
    const added: Stored[] = [];
    batch.recipients.forEach(({ messageId, number, group }, index) => {
      if (this.recipients.has(messageId)) throw new Error(`outbox: duplicate messageId ${messageId}`);
      this.recipients.set(messageId, {
        messageId,
        batchId: batch.batchId,
        index,
        count: batch.recipients.length,
        number,
        text: batch.text,
        pinnedLine: batch.line,
        nodeId: batch.nodeId,
        meta: { ...batch.meta },
        segments: batch.segments,
        encoding: batch.encoding,
        state: 'queued',
        line: null,
        sendId: null,
        telId: null,
        smsNo: null,
        error: null,
        attempts: 0,
        excludedLines: [],
        group: group ?? '',
        deliveryState: null,
        deliveredAt: null,
        updatedAt: now,
        batchSeq: seq,
        sentAt: null,
        priority: PRIORITIES.indexOf(batch.priority ?? 'normal'),
        sendAt: batch.sendAt ?? null,
        expiresAt: batch.expiresAt ?? null,
        createdAt: now,
        resultOut: false,
      });
      added.push(this.recipients.get(messageId) as Stored);
    });
    return this.queue.blockAmong(added);
  }

  claim(line: string, sendId: number, firstTelId: number, limit: number, batchId?: string, lowest: Priority = 'low', groups?: readonly string[]): Recipient[] {
    if (limit <= 0) return [];
    const now = this.now();
    const claimable = this.claimable(line, groups, PRIORITIES.indexOf(lowest)).filter((r) => batchId === undefined || r.batchId === batchId);
    if (claimable.length === 0) return [];
    if (batchId !== undefined && this.claimable(line, groups, claimable[0].priority - 1).length > 0) return [];
    const seq = claimable[0].batchSeq;
    return claimable
      .filter((r) => r.batchSeq === seq)
      .slice(0, limit)
      .map((r, i) => {
        Object.assign(r, { state: 'claimed', line, sendId, telId: firstTelId + i, attempts: r.attempts + 1, updatedAt: now });
        return this.view(r);
      });
  }

  nextBatch(line: string, groups?: readonly string[], lowest: Priority = 'low'): { batchId: string; text: string } | null {
    const [first] = this.claimable(line, groups, PRIORITIES.indexOf(lowest));
    return first === undefined ? null : { batchId: first.batchId, text: first.text };
  }

  failUnroutable(groups: readonly string[]): Recipient[] {
    const failed: Recipient[] = [];
    for (const r of this.recipients.values()) {
      if (r.state !== 'queued' || groups.includes(r.group)) continue;
      Object.assign(r, { state: 'failed', error: unroutableReason(r.group), updatedAt: this.now() });
      failed.push(this.view(r));
    }
    return failed;
  }

  sentSince(line: string, since: number): number {
    return this.lineSends.filter((s) => s.line === line && s.at >= since).length;
  }

  claimedRecipients(): Recipient[] {
    return [...this.recipients.values()]
      .filter((r) => r.state === 'claimed')
      .sort((a, b) => cmp(a.line, b.line) || (a.sendId ?? 0) - (b.sendId ?? 0) || (a.telId ?? 0) - (b.telId ?? 0))
      .map((r) => this.view(r));
  }

  markSent(messageId: string, smsNo: number | null, day: string): Recipient {
    const r = this.require(messageId);
    if (r.state === 'sent') return this.view(r);
    this.expect(r, 'claimed', 'markSent');
    const now = this.now();
    Object.assign(r, { state: 'sent', smsNo, sentAt: now, updatedAt: now });
    const key = `${r.line} ${day}`;
    this.usage.set(key, (this.usage.get(key) ?? 0) + 1);
    this.lineSends.push({ line: r.line as string, at: now });
    return this.view(r);
  }

  markFailed(messageId: string, reason: string): Recipient {
    const r = this.require(messageId);
    this.expect(r, 'claimed', 'markFailed');
    Object.assign(r, { state: 'failed', error: reason, updatedAt: this.now() });
    return this.view(r);
  }

  failUnsendable(lines: readonly string[]): Recipient[] {
    if (lines.length === 0) return [];
    const failed: Recipient[] = [];
    for (const r of this.recipients.values()) {
      if (r.state !== 'queued') continue;
      const pinnedAway = r.pinnedLine !== null && !lines.includes(r.pinnedLine);
      if (!pinnedAway && lines.some((line) => !r.excludedLines.includes(line))) continue;
        Object.assign(r, { state: 'failed', error: unsendableReason(r.pinnedLine, lines), updatedAt: this.now() });
      failed.push(this.view(r));
    }
    return failed;
  }

  requeue(messageId: string, excludeLine: string): Recipient {
    const r = this.require(messageId);
    this.expect(r, 'claimed', 'requeue');
    const excludedLines = [...new Set([...r.excludedLines, excludeLine])];
    Object.assign(r, { state: 'queued', line: null, sendId: null, telId: null, excludedLines, updatedAt: this.now() });
    return this.view(r);
  }

  correlateDelivery(line: string, smsNo: number, windowMs: number, now: number): Recipient | null {
    let best: Stored | null = null;
    for (const r of this.recipients.values()) {
      if (r.state !== 'sent' || r.line !== line || r.smsNo !== smsNo || r.sentAt === null || r.sentAt < now - windowMs) continue;
      if (best === null || (best.sentAt ?? 0) < r.sentAt) best = r;
    }
    return best === null ? null : this.view(best);
  }

  markDelivery(messageId: string, tpStatus: number, at: number): Recipient {
    const r = this.require(messageId);
    this.expect(r, 'sent', 'markDelivery');
    Object.assign(r, { deliveryState: tpStatus, deliveredAt: at, updatedAt: this.now() });
    return this.view(r);
  }

  findSentTo(line: string, number: string, at: number, windowMs: number): Recipient | null {
    let best: Stored | null = null;
    for (const r of this.recipients.values()) {
      if (r.state !== 'sent' || r.line !== line || r.sentAt === null || Math.abs(r.sentAt - at) > windowMs) continue;
      if (!sameNumber(r.number, number)) continue;
      const d = Math.abs(r.sentAt - at);
      const bestD = best === null ? Infinity : Math.abs((best.sentAt as number) - at);
      if (d < bestD || (d === bestD && r.sentAt > (best?.sentAt as number))) best = r;
    }
    return best === null ? null : this.view(best);
  }

  nextSendId(line: string): number {
    const next = ((this.sendIds.get(line) ?? 0) % 999_999) + 1;
    this.sendIds.set(line, next);
    return next;
  }

  sentToday(line: string, day: string): number {
    return this.usage.get(`${line} ${day}`) ?? 0;
  }

  sentByLineOn(day: string): ReadonlyMap<string, number> {
    const suffix = ` ${day}`;
    return new Map([...this.usage].filter(([key]) => key.endsWith(suffix)).map(([key, count]) => [key.slice(0, -suffix.length), count]));
  }

  transaction<T>(work: () => T): T {
    if (this.depth > 0) return work();
    const snapshot = { recipients: structuredClone(this.recipients), usage: new Map(this.usage), batchSeq: this.batchSeq, lineSends: [...this.lineSends], blocked: new Map(this.queue.blockedNumbers) };
    this.depth++;
    try {
      return work();
    } catch (err) {
      this.recipients = snapshot.recipients;
      this.usage = snapshot.usage;
      this.batchSeq = snapshot.batchSeq;
      this.lineSends = snapshot.lineSends;
      this.queue.blockedNumbers = snapshot.blocked;
      throw err;
    } finally {
      this.depth--;
    }
  }

  queuedCount(): number {
    return this.countIn('queued');
  }

  claimedCount(): number {
    return this.countIn('claimed');
  }

  get(messageId: string): Recipient | undefined {
    const r = this.recipients.get(messageId);
    return r === undefined ? undefined : this.view(r);
  }

  purge(olderThanMs: number, now: number): number {
    let n = 0;
    for (const [id, r] of this.recipients) {
      if (r.state !== 'queued' && r.state !== 'claimed' && r.updatedAt < now - olderThanMs) {
        this.recipients.delete(id);
        n++;
      }
    }
    return n;
  }

  close(): void {
    // nothing to release
  }

  /** Every recipient (test inspection). */
  all(): Recipient[] {
    return [...this.recipients.values()].map((r) => this.view(r));
  }

  /** Queued recipients `line` may claim, in claim order. */
  /** What `line` may claim now: due, not expired, of priority rank `lowest` or higher, of `groups` when given; in claim order. */
  private claimable(line: string, groups: readonly string[] | undefined, lowest: number): Stored[] {
    const now = this.now();
    return [...this.recipients.values()]
      .filter((r) => r.state === 'queued' && r.priority <= lowest && (r.pinnedLine === null || r.pinnedLine === line) && !r.excludedLines.includes(line))
      .filter((r) => (r.sendAt === null || r.sendAt <= now) && (r.expiresAt === null || r.expiresAt > now))
      .filter((r) => groups === undefined || groups.includes(r.group))
      .sort((a, b) => a.priority - b.priority || a.batchSeq - b.batchSeq || a.index - b.index);
  }

  private countIn(state: RecipientState): number {
    let n = 0;
    for (const r of this.recipients.values()) if (r.state === state) n++;
    return n;
  }

  private require(messageId: string): Stored {
    const r = this.recipients.get(messageId);
    if (r === undefined) throw new Error(`outbox: no recipient with messageId ${messageId}`);
    return r;
  }

  private expect(r: Stored, state: RecipientState, operation: string): void {
    if (r.state !== state) throw new Error(`outbox: ${operation}(${r.messageId}) needs a ${state} recipient, it is ${r.state}`);
  }

  /** A copy without the private fields, so callers cannot change the store. */
  private view(r: Stored): Recipient {
    const { batchSeq: _seq, sentAt: _sentAt, priority: _priority, sendAt: _sendAt, expiresAt: _expiresAt, createdAt: _createdAt, ...recipient } = r;
    return { ...recipient, meta: { ...recipient.meta }, excludedLines: [...recipient.excludedLines] };
  }
}

function cmp(a: string | null, b: string | null): number {
  return (a ?? '').localeCompare(b ?? '');
}
