/**
 * What the gateway offers senders (goip-send nodes, scripts): the durable outbox and the bulk-send
 * engine behind one small surface, with results routed to the owner (a goip-send node id) that
 * submitted the batch, including results of batches resumed after a restart.
 */
import { randomUUID } from 'node:crypto';
import type { Outbox, Recipient } from '../outbox/types';
import type { ComposedBatch } from '../send/compose';
import type { BulkSender } from '../server/bulk';

export interface Submitted {
  batchId: string;
  messageIds: string[];
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
    sender.on('result', (recipient: Recipient) => {
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
    });
    sender.on('progress', () => {
      for (const listener of this.progressListeners) listener();
    });
  }

  /** Stores the batch durably (returns only once committed) and wakes the sender. */
  submit(nodeId: string, batch: ComposedBatch, meta: Record<string, unknown>): Submitted {
    const batchId = randomUUID();
    const recipients = batch.numbers.map((number, i) => ({ messageId: randomUUID(), number, group: batch.groups[i] }));
    this.outbox.enqueue({
      batchId,
      text: batch.text,
      line: batch.line,
      nodeId,
      meta,
      segments: batch.segments,
      encoding: batch.encoding,
      recipients,
    });
    this.sender.kick();
    return { batchId, messageIds: recipients.map((r) => r.messageId) };
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
}
