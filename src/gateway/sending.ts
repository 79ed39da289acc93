/**
 * What the gateway offers senders (goip-send nodes, scripts): the durable outbox and the bulk-send
 * engine behind one small surface, with results routed to the owner (a goip-send node id) that
 * submitted the batch. A result stays in the store's result log until its owner says it was taken:
 * results the owner was not there for, or that a kill -9 caught inside the flow, go out again
 * when the owner subscribes (after a restart, a redeploy): at least once.
 */
import { randomUUID } from 'node:crypto';
import type { GatewayStore } from '../outbox/store-ports';
import type { BlockedNumber, QueueStatus, QueueTarget, Recipient, ResultCursor } from '../outbox/types';
import { type ComposedBatch, composeBatch, composeQueueFields, InputError, type NumberRule, type QueueFields, type SendRequest } from '../send/compose';
import type { GroupRouter } from '../send/routing';
import type { BulkSender } from '../outbound';

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

/**
 * Takes of results are committed together on the next timer turn: soon, because a take not yet
 * committed when the process dies is a duplicate after the restart (2 to 6 of 200 in the kill -9
 * test, against 8 to 11 with a 200 ms window).
 */
const TAKEN_COMMIT_MS = 0;
/** Unreported results read from the store at once when an owner subscribes. */
const REPLAY_PAGE = 500;

/** A send as a flow or a script hands it: checked, normalised and routed by submit(). */
export interface SubmitRequest extends SendRequest {
  /** Whose results these are: a goip-send node id, a script's name (onResult with the same). */
  owner: string;
  /** How numbers are read and written (default: E.164 as given, no country); see checkRule(). */
  rule?: NumberRule;
  /** Kept with the batch and given back on each result (goip-send keeps the input's _msgid, topic). */
  meta?: Record<string, unknown>;
  priority?: unknown;
  sendAt?: unknown;
  validity?: unknown;
  expiresAt?: unknown;
  batchId?: unknown;
}

/** What composing a batch asks of the gateway: its lines and its routing groups. */
export interface Composing {
  knownLines(): ReadonlySet<string>;
  router(): GroupRouter;
}

const E164: NumberRule = { country: '', format: 'e164' };

/** Gets a final result; calls `taken` once the flow is done with it (then it is not emitted again). */
export type ResultListener = (recipient: Recipient, taken: () => void) => void;

export class SendingService {
  private readonly listeners = new Map<string, ResultListener>();
  private readonly progressListeners = new Set<() => void>();
  /** Results handed to a listener and not taken yet: a replay skips them. */
  private readonly inHand = new Set<string>();
  private takenIds: string[] = [];
  private takenTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: Pick<GatewayStore, 'outbox' | 'queue' | 'results'>,
    private readonly sender: BulkSender,
    /** Told when committing takes failed (they go out again after a restart). */
    private readonly failed: (error: unknown) => void,
    private readonly composing: Composing,
  ) {
    sender.on('result', this.route);
    sender.on('progress', this.tellProgress);
  }

  /**
   * Checks the request, normalises and routes its numbers with the gateway's lines and routing
   * groups, and stores it (see submitBatch). An InputError with a reason the sender can act on.
   */
  async submit(request: SubmitRequest): Promise<Submitted> {
    const { knownLines, router } = this.composing;
    const batch = composeBatch(request, request.rule ?? E164, knownLines(), router());
    const fields = composeQueueFields(
      { priority: request.priority, sendAt: request.sendAt, validity: request.validity, expiresAt: request.expiresAt, batchId: request.batchId },
      Date.now(),
    );
    return this.submitBatch(request.owner, batch, request.meta ?? {}, fields);
  }

  /**
   * Stores a composed batch durably (resolves only once committed) and wakes the sender. Recipients
   * on the block list end blocked at once. An InputError when `fields.batchId` is in the store already.
   */
  async submitBatch(nodeId: string, batch: ComposedBatch, meta: Record<string, unknown>, fields?: QueueFields): Promise<Submitted> {
    if (fields?.batchId != null && (await this.store.queue.status(fields.batchId)) !== null) {
      throw new InputError(`batchId "${fields.batchId}" is already in the queue: use another one`);
    }
    const batchId = fields?.batchId ?? randomUUID();
    const recipients = batch.numbers.map((number, i) => {
      const own = batch.personal?.[i];
      const recipient = { messageId: randomUUID(), number, group: batch.groups[i], stickyMs: batch.stickyMs?.[i] ?? undefined };
      return own === undefined ? recipient : 'error' in own ? { ...recipient, error: own.error } : { ...recipient, text: own.text, segments: own.segments, encoding: own.encoding };
    });
    const blocked = await this.store.outbox.enqueue({
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
  status(batchId?: string): Promise<QueueStatus | null> {
    return this.store.queue.status(batchId);
  }

  /** Queued recipients of the target end cancelled now (after their commit, before any further SEND); null when unknown. */
  async cancel(target: QueueTarget): Promise<CancelAnswer | null> {
    const result = await this.store.queue.cancel(target);
    if (result === null) return null;
    this.settled(result.cancelled);
    return { cancelled: result.cancelled.length, inFlight: result.inFlight };
  }

  /** The batch's failed and expired recipients go back to the queue as new attempts; null when unknown. */
  async retry(batchId: string): Promise<{ queued: number; blocked: number } | null> {
    const result = await this.store.queue.retry(batchId);
    if (result === null) return null;
    this.settled(result.blocked);
    this.sender.kick();
    return { queued: result.queued, blocked: result.blocked.length };
  }

  /** Puts numbers on the block list; their queued recipients end blocked now. Returns how many did. */
  async block(numbers: readonly string[], source?: { keyword: string; line: string }): Promise<number> {
    const blocked = await this.store.queue.block(numbers, source);
    this.settled(blocked);
    return blocked.length;
  }

  unblock(numbers: readonly string[]): Promise<number> {
    return this.store.queue.unblock(numbers);
  }

  blocked(): Promise<BlockedNumber[]> {
    return this.store.queue.blocked();
  }

  /**
   * Results for `nodeId` go to `listener` until the returned function is called, first those in
   * the store that were never taken (once the flow has finished starting: the wires lead somewhere).
   */
  onResult(nodeId: string, listener: ResultListener): () => void {
    this.listeners.set(nodeId, listener);
    setImmediate(() => void this.replay(nodeId, listener, null));
    return () => {
      if (this.listeners.get(nodeId) === listener) this.listeners.delete(nodeId);
    };
  }

  /** Every owner gets again what the store holds untaken for it (results another instance left when it died). */
  replayAll(): void {
    for (const [nodeId, listener] of this.listeners) setImmediate(() => void this.replay(nodeId, listener, null));
  }

  onProgress(listener: () => void): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  async pending(): Promise<{ queued: number; claimed: number }> {
    const [queued, claimed] = await Promise.all([this.store.outbox.queuedCount(), this.store.outbox.claimedCount()]);
    return { queued, claimed };
  }

  /** Recipients the queue ended outside the sender (committed): their results go out. */
  private settled(recipients: readonly Recipient[]): void {
    for (const recipient of recipients) this.route(recipient);
    if (recipients.length > 0) this.tellProgress();
  }

  /** A final recipient goes to its owner; without one it waits in the store for the owner to subscribe. */
  private readonly route = (recipient: Recipient): void => {
    const listener = this.listeners.get(recipient.nodeId);
    if (listener !== undefined) this.hand(listener, recipient);
  };

  private hand(listener: ResultListener, recipient: Recipient): void {
    const { messageId } = recipient;
    this.inHand.add(messageId);
    let once = false;
    listener(recipient, () => {
      if (once) return;
      once = true;
      this.inHand.delete(messageId);
      if (this.closed) return;
      this.takenIds.push(messageId);
      this.takenTimer ??= setTimeout(this.commitTaken, TAKEN_COMMIT_MS);
    });
  }

  /** One page of the owner's results never taken, then the next on a later turn (a large backlog does not stall the process). */
  private async replay(nodeId: string, listener: ResultListener, after: ResultCursor | null): Promise<void> {
    if (this.closed || this.listeners.get(nodeId) !== listener) return;
    let page;
    try {
      page = await this.store.results.unreported(nodeId, after, REPLAY_PAGE);
    } catch (err) {
      this.failed(err);
      return;
    }
    if (this.closed || this.listeners.get(nodeId) !== listener) return;
    for (const recipient of page.recipients) if (!this.inHand.has(recipient.messageId)) this.hand(listener, recipient);
    const next = page.next;
    if (next !== null) setImmediate(() => void this.replay(nodeId, listener, next));
  }

  /** The takes so far in one commit, after the one before (a store across the network answers later). */
  private readonly commitTaken = (): Promise<void> => {
    if (this.takenTimer !== null) clearTimeout(this.takenTimer);
    this.takenTimer = null;
    const ids = this.takenIds;
    this.takenIds = [];
    if (ids.length === 0) return this.committing;
    this.committing = this.committing.then(() => this.store.results.taken(ids)).catch((err: unknown) => this.failed(err));
    return this.committing;
  };

  /** Commits the takes so far; nothing is read or written after (call before the store closes). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.commitTaken();
  }

  private readonly tellProgress = (): void => {
    for (const listener of this.progressListeners) listener();
  };
}
