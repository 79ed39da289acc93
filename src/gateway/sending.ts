/**
 * What the gateway offers senders (goip-send nodes, scripts): the durable outbox and the bulk-send
 * engine behind one small surface, with results routed to the owner (a goip-send node id) that
 * submitted the batch, including results of batches resumed after a restart.
 */
import { randomUUID } from 'node:crypto';
import type { BlockedNumber, Outbox, QueueStatus, QueueTarget, Recipient } from '../outbox/types';
import { type ComposedBatch, InputError, type QueueFields } from '../send/compose';
import type { BulkSender } from '../server/bulk';

export interface Submitted {
  batchId: string;
  messageIds: string[];
}

export interface CancelAnswer {
  /** Recipients that ended cancelled (their results are out). */
  cancelled: number;
  /** Recipients already handed to a line: they end as the line tells. */
  inFlight: number;
}

/** Results kept for owners not (yet) listening, e.g. goip-send nodes while flows start after a restart. */
const MAX_HELD_RESULTS = 10_000;

export class SendingService {
  private readonly listeners = new Map<string, (recipient: Recipient) => void>();
  private readonly progressListeners = new Set<() => void>();
  private readonly held = new Map<string, Recipient[]>();
  private heldCount = 0;

  constructor(
    readonly outbox: Outbox,
    private readonly sender: BulkSender,
    /** Told when a result had to be dropped because no owner took it in time. */
    private readonly dropped: (recipient: Recipient) => void,
  ) {
    sender.on('result', this.route);
    sender.on('progress', this.tellProgress);
  }

  /**
   * Stores the batch durably (returns only once committed) and wakes the sender. Recipients on
   * the block list end blocked at once. An InputError when `fields.batchId` is in the store already.
   */
  submit(nodeId: string, batch: ComposedBatch, meta: Record<string, unknown>, fields?: QueueFields): Submitted {
    if (fields?.batchId != null && this.outbox.queue.status(fields.batchId) !== null) {
      throw new InputError(`batchId "${fields.batchId}" is already in the queue: use another one`);
    }
    const batchId = fields?.batchId ?? randomUUID();
    const recipients = batch.numbers.map((number, i) => ({ messageId: randomUUID(), number, group: batch.groups[i] }));
    const blocked = this.outbox.enqueue({
      batchId,
      text: batch.text,
      line: batch.line,
      nodeId,
      meta,
      segments: batch.segments,
      encoding: batch.encoding,
      recipients,
      priority: fields?.priority,
      sendAt: fields?.sendAt,
      expiresAt: fields?.expiresAt,
    });
    this.settled(blocked);
    this.sender.kick();
    return { batchId, messageIds: recipients.map((r) => r.messageId) };
  }

  /** Counts of the store, or of one batch (null when unknown). */
  status(batchId?: string): QueueStatus | null {
    return this.outbox.queue.status(batchId);
  }

  /** Queued recipients of the target end cancelled now (after their commit, before any further SEND); null when unknown. */
  cancel(target: QueueTarget): CancelAnswer | null {
    const result = this.outbox.queue.cancel(target);
    if (result === null) return null;
    this.settled(result.cancelled);
    return { cancelled: result.cancelled.length, inFlight: result.inFlight };
  }

  /** The batch's failed and expired recipients go back to the queue as new attempts; null when unknown. */
  retry(batchId: string): { queued: number; blocked: number } | null {
    const result = this.outbox.queue.retry(batchId);
    if (result === null) return null;
    this.settled(result.blocked);
    this.sender.kick();
    return { queued: result.queued, blocked: result.blocked.length };
  }

  /** Puts numbers on the block list; their queued recipients end blocked now. Returns how many did. */
  block(numbers: readonly string[], source?: { keyword: string; line: string }): number {
    const blocked = this.outbox.queue.block(numbers, source);
    this.settled(blocked);
    return blocked.length;
  }

  unblock(numbers: readonly string[]): number {
    return this.outbox.queue.unblock(numbers);
  }

  blocked(): BlockedNumber[] {
    return this.outbox.queue.blocked();
  }

  /** Results for `nodeId` go to `listener` until the returned function is called. */
  onResult(nodeId: string, listener: (recipient: Recipient) => void): () => void {
    this.listeners.set(nodeId, listener);
    // Held results go out once the flow has finished starting (the node's wires lead somewhere).
    setImmediate(() => {
      const waiting = this.held.get(nodeId);
      if (waiting === undefined || this.listeners.get(nodeId) !== listener) return;
      this.held.delete(nodeId);
      this.heldCount -= waiting.length;
      for (const recipient of waiting) listener(recipient);
    });
    return () => {
      if (this.listeners.get(nodeId) === listener) this.listeners.delete(nodeId);
    };
  }

  onProgress(listener: () => void): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  pending(): { queued: number; claimed: number } {
    return { queued: this.outbox.queuedCount(), claimed: this.outbox.claimedCount() };
  }

  /** Recipients the queue ended outside the sender (committed): their results go out. */
  private settled(recipients: readonly Recipient[]): void {
    for (const recipient of recipients) this.route(recipient);
    if (recipients.length > 0) this.tellProgress();
  }

  private readonly route = (recipient: Recipient): void => {
    const listener = this.listeners.get(recipient.nodeId);
    if (listener !== undefined) {
      listener(recipient);
      return;
    }
    if (this.heldCount >= MAX_HELD_RESULTS) {
      this.dropped(recipient);
      return;
    }
    const list = this.held.get(recipient.nodeId) ?? [];
    list.push(recipient);
    this.held.set(recipient.nodeId, list);
    this.heldCount++;
  };

  private readonly tellProgress = (): void => {
    for (const listener of this.progressListeners) listener();
  };
}
