/**
 * The durable inbox: every received SMS (after part joining) and delivery report is committed to
 * the store before its ack leaves. Reports read in one loop turn are stored in one transaction
 * (group commit), synced to the disk off the event loop (one fsync for all the commits made
 * meanwhile), then acked, then published and handed to the consumers. When the store cannot write, nothing of the turn is acked (the GoIP resends later),
 * the failure is told, and the next turn that commits tells the recovery.
 */
import type { InboxLog, InboxRecord } from '../../outbox/types';
import type { DeliveryPayload, GoipEvent, ReplyTo } from '../../link';
import type { PartJoiner } from '../parts/part-joiner';
import { InboxConsumers } from './inbox-consumers';
import { type InboxItem, inboxItem, parseInboxQuery } from './inbox-filter';

export interface InboxPorts {
  log: InboxLog;
  /** The store's transaction (nested calls are savepoints); the disk has it when it returns. */
  transaction: <T>(work: () => T) => T;
  /** A top-level transaction that returns before the disk has it; `durable` is told once it has. */
  commitLater: (work: () => void, durable: (err: Error | null) => void) => void;
  /** The messageId of the send a DELIVER report is for (stores its delivery state on the way). */
  correlate: (line: string, report: DeliveryPayload) => string | null;
  /** A committed message goes out to the gateway's listeners. */
  publish: (event: GoipEvent) => void;
  /** The store failed (an Error) or writes again (null). */
  health: (failure: Error | null) => void;
  warn: (err: unknown) => void;
}

export interface InboxOptions {
  /** msg.goip.inReplyTo looks this far back; 0 = off. */
  replyWindowMs: number;
}

/**
 * libuv reads at most 32 datagrams from a socket per loop turn; keepalives and other reports share
 * those reads. A turn that brought this many reports was most likely cut short with more waiting:
 * under load, waiting a turn more makes one commit (one fsync) of two turns' reports.
 */
const FULL_TURN = 16;
/** Reports of one commit at most. */
const MAX_GROUP = 256;

export class InboxService {
  readonly consumers: InboxConsumers;
  private parts: PartJoiner | null = null;
  private arrived: GoipEvent[] = [];
  private arrivedThisTurn = 0;
  /** Messages stored by the transaction in progress, published once it commits. */
  private stored: GoipEvent[] | null = null;
  /** The report being ingested: a message it completes is stored with its key. */
  private reportKey: number | null = null;
  private failure: Error | null = null;
  private closed = false;

  constructor(
    private readonly ports: InboxPorts,
    private readonly options: InboxOptions,
  ) {
    this.consumers = new InboxConsumers(ports.log, ports.warn);
  }

  /** The part joiner received SMS go through (its releases are stored here). */
  joinWith(parts: PartJoiner): void {
    this.parts = parts;
  }

  /** Why the store cannot write right now, null when it can. */
  get error(): Error | null {
    return this.failure;
  }

  /** An sms or delivery from the server (or decoded from an AT session): stored with the others of this turn. */
  accept(event: GoipEvent): void {
    this.arrived.push(event);
    this.arrivedThisTurn++;
    if (this.arrived.length === 1) setImmediate(this.flush);
  }

  /**
   * Runs `work` in a transaction whose stored messages are published once it commits (the joiner's
   * releases); throws when it did not commit.
   */
  atomically(work: () => void): void {
    if (this.stored !== null) {
      this.ports.transaction(work);
      return;
    }
    if (!this.commit(work)) throw this.failure ?? new Error('inbox: the store did not commit');
  }

  /** Stores a whole message (a joined SMS or a delivery) inside the transaction in progress. */
  record(event: GoipEvent): void {
    const { receipt: _receipt, ...message } = event;
    const sms = message.event === 'sms';
    if (sms) {
      const inReplyTo = this.replyTo(message);
      if (inReplyTo !== null) message.inReplyTo = inReplyTo;
    }
    const delivery = sms ? null : (message.payload as DeliveryPayload);
    const record: InboxRecord = {
      kind: sms ? 'sms' : 'delivery',
      line: message.line,
      sender: sms ? (message.from ?? '') : (delivery?.to ?? ''),
      text: sms ? String(message.payload) : '',
      receivedAt: message.receivedAt,
      parts: message.parts ?? 1,
      messageId: delivery?.messageId ?? null,
      status: delivery?.status ?? null,
      event: message,
      reportKey: this.reportKey,
      handed: this.consumers.accepted(message),
    };
    if (this.stored === null) throw new Error('inbox: record() outside a transaction');
    message.inboxId = this.ports.log.insert(record);
    this.stored.push(message);
  }

  /** A history page, newest first; an InboxQueryError (code 'input') for a bad filter. */
  query(filters: unknown): { items: InboxItem[]; next?: string } {
    const page = this.ports.log.query(parseInboxQuery(filters));
    const items = page.rows.map(inboxItem);
    return page.next === null ? { items } : { items, next: page.next };
  }

  close(): void {
    this.closed = true;
    this.consumers.close();
  }

  private readonly flush = (): void => {
    // A turn that brought a full read likely left more in the socket (see FULL_TURN): they share this commit.
    const full = this.arrivedThisTurn >= FULL_TURN;
    this.arrivedThisTurn = 0;
    if (full && this.arrived.length < MAX_GROUP) {
      setImmediate(this.flush);
      return;
    }
    const batch = this.arrived;
    this.arrived = [];
    let putTakesBack = (): void => undefined;
    const stored: GoipEvent[] = [];
    const work = (): void => {
      this.stored = stored;
      try {
        putTakesBack = this.consumers.writeTakes();
        for (const event of batch) this.ingest(event);
      } finally {
        this.stored = null;
      }
    };
    try {
      this.ports.commitLater(work, (err) => this.durable(batch, stored, err));
    } catch (err) {
      this.failed(err);
      for (const event of batch) event.receipt?.refuse();
      putTakesBack();
      this.parts?.reload();
    }
  };

  /**
   * A group commit reached the disk (err null): its reports are acked, then its messages go out
   * (the acks first: the flows' work would delay them). When the sync failed the rows are in the
   * store but maybe not on the disk: the acks are refused (the GoIP resends, which may store a
   * message twice: at least once) and the messages still go out.
   */
  private durable(batch: readonly GoipEvent[], stored: readonly GoipEvent[], err: Error | null): void {
    try {
      if (err === null) this.recovered();
      else this.failed(err);
      for (const event of batch) {
        if (err === null) event.receipt?.ack();
        else event.receipt?.refuse();
      }
      if (this.closed) return; // untaken in the store: the next start hands them out
      this.handOut(stored);
    } catch (error) {
      this.ports.warn(error);
    }
  }

  private ingest(event: GoipEvent): void {
    this.reportKey = event.receipt?.key ?? null;
    try {
      if (event.event === 'sms') {
        if (this.parts === null) this.record(event);
        else this.parts.accept(event);
        return;
      }
      const report = event.payload as DeliveryPayload;
      const messageId = event.fields.verb === 'DELIVER' ? this.ports.correlate(event.line, report) : report.messageId;
      this.record({ ...event, payload: { ...report, messageId } });
    } finally {
      this.reportKey = null;
    }
  }

  /** One transaction that the disk has when it returns, its messages out; false (told, not thrown) when it failed. */
  private commit(work: () => void): boolean {
    const stored: GoipEvent[] = [];
    this.stored = stored;
    try {
      this.ports.transaction(work);
    } catch (err) {
      this.failed(err);
      return false;
    } finally {
      this.stored = null;
    }
    this.recovered();
    this.handOut(stored);
    return true;
  }

  private handOut(stored: readonly GoipEvent[]): void {
    for (const message of stored) {
      this.ports.publish(message);
      this.consumers.hand(message);
    }
  }

  private recovered(): void {
    if (this.failure === null) return;
    this.failure = null;
    this.ports.health(null);
  }

  private failed(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    // Told once per distinct reason: a GoIP resending to a read-only store does not flood the log.
    if (this.failure?.message === error.message) return;
    this.ports.warn(error);
    this.failure = error;
    this.ports.health(error);
  }

  private replyTo(message: GoipEvent): ReplyTo | null {
    if (this.options.replyWindowMs <= 0 || message.from === undefined || message.from === '') return null;
    const sent = this.ports.log.lastSentTo(message.from, message.receivedAt - this.options.replyWindowMs);
    return sent === null ? null : { messageId: sent.messageId, batchId: sent.batchId, sentAt: new Date(sent.sentAt).toISOString(), line: sent.line };
  }
}
