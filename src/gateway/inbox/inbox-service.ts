/**
 * The durable inbox: every received SMS (after part joining) and delivery report is committed to
 * the store before its ack leaves. Reports read in one loop turn share one commit (group commit),
 * in three phases (./README.md): the part joiner and this service decide the commit's writes
 * without touching the store; the reads (reply correlation, the send of each DELIVER report) fill
 * them in; then one transaction writes them (with SQLite its sync off the event loop), and only
 * then are the reports acked and the messages published and handed to the consumers. When the
 * store cannot write, nothing of the commit is acked (the GoIP resends later), the failure is told,
 * and the next commit that succeeds tells the recovery.
 */
import type { InboxReads, ReceivePorts } from '../../outbox/store-ports';
import type { HeldPart, InboxRecord, InboxWrites, ReceiveStore } from '../../outbox/types';
import type { DeliveryPayload, GoipEvent, ReplyTo } from '../../link';
import type { JoinerStore, PartJoiner } from '../parts/part-joiner';
import { InboxConsumers } from './inbox-consumers';
import { type InboxItem, inboxItem, parseInboxQuery } from './inbox-filter';

export interface InboxPorts {
  /** The inbox's rows as the consumers and the history read them. */
  log: InboxReads;
  /** The group commit's reads and writes. */
  store: ReceiveStore;
  /** A committed message goes out to the gateway's listeners. */
  publish: (event: GoipEvent) => void;
  /** The store failed (an Error) or writes again (null). */
  health: (failure: Error | null) => void;
  warn: (err: unknown) => void;
}

export interface InboxOptions {
  /** msg.goip.inReplyTo looks this far back; 0 = off. */
  replyWindowMs: number;
  /** How far back a DELIVER report's send is looked for. */
  deliveryWindowMs: number;
}

/**
 * libuv reads at most 32 datagrams from a socket per loop turn; keepalives and other reports share
 * those reads. A turn that brought this many reports was most likely cut short with more waiting:
 * under load, waiting a turn more makes one commit (one fsync) of two turns' reports.
 */
const FULL_TURN = 16;
/** Reports of one commit at most. */
const MAX_GROUP = 256;

/** One commit being decided and then written. */
interface Unit {
  writes: InboxWrites;
  /** Its messages, in the order of writes.records. */
  stored: GoipEvent[];
  /** Its DELIVER reports, whose send is read before the write. */
  delivers: Array<{ message: GoipEvent; record: InboxRecord }>;
}

export class InboxService {
  readonly consumers: InboxConsumers;
  private parts: PartJoiner | null = null;
  private arrived: GoipEvent[] = [];
  private arrivedThisTurn = 0;
  /** The commit being decided (its writes are collected synchronously), null between them. */
  private current: Unit | null = null;
  /** Commits are called in the order their reports came: each waits for the call of the one before. */
  private lastCall: Promise<void> = Promise.resolve();
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

  /** The joiner's held parts: read from `store`, written with the commit being decided. */
  heldParts(store: ReceivePorts['heldParts']): JoinerStore {
    return {
      durable: true,
      all: () => store.all(),
      hold: (part: HeldPart) => this.unitNow().writes.held.push({ hold: part }),
      release: (line: string, from: string) => this.unitNow().writes.held.push({ release: { line, from } }),
    };
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
   * Runs `work` (the joiner's release of a chain: its parts forgotten, the joined message stored)
   * in the commit being decided, or in one of its own; rejects when that one did not commit.
   */
  atomically(work: () => void): Promise<void> {
    if (this.current !== null) {
      work();
      return Promise.resolve();
    }
    const unit = this.open();
    try {
      work();
    } finally {
      this.current = null;
    }
    return this.complete(unit, [], false);
  }

  /** Stores a whole message (a joined SMS or a delivery) with the commit being decided. */
  record(event: GoipEvent): GoipEvent {
    const unit = this.unitNow();
    const { receipt: _receipt, ...message } = event;
    const sms = message.event === 'sms';
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
    unit.writes.records.push(record);
    unit.stored.push(message);
    return message;
  }

  /** A history page, newest first; an InboxQueryError (code 'input') for a bad filter. */
  async query(filters: unknown): Promise<{ items: InboxItem[]; next?: string }> {
    const page = await this.ports.log.query(parseInboxQuery(filters));
    const items = page.rows.map(inboxItem);
    return page.next === null ? { items } : { items, next: page.next };
  }

  close(): Promise<void> {
    this.closed = true;
    return this.consumers.close();
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
    const unit = this.open();
    try {
      for (const event of batch) this.ingest(event, unit);
    } catch (err) {
      this.current = null;
      this.undo(unit, batch, err);
      return;
    }
    this.current = null;
    void this.complete(unit, batch, true).catch(() => undefined);
  };

  private open(): Unit {
    const unit: Unit = { writes: { records: [], held: [], deliveries: [], takes: this.consumers.pendingTakes() }, stored: [], delivers: [] };
    this.current = unit;
    return unit;
  }

  private unitNow(): Unit {
    if (this.current === null) throw new Error('inbox: a write outside a commit');
    return this.current;
  }

  private ingest(event: GoipEvent, unit: Unit): void {
    this.reportKey = event.receipt?.key ?? null;
    try {
      if (event.event === 'sms') {
        if (this.parts === null) this.record(event);
        else this.parts.accept(event);
        return;
      }
      const message = this.record({ ...event, payload: { ...(event.payload as DeliveryPayload) } });
      if (event.fields.verb === 'DELIVER') unit.delivers.push({ message, record: unit.writes.records[unit.writes.records.length - 1] });
    } finally {
      this.reportKey = null;
    }
  }

  /**
   * Reads what the writes need, writes them in one commit (called after the previous one's),
   * then acks the batch's reports and hands the messages out. False when it did not commit: the
   * reports are refused and, for a batch (`reload`), the joiner takes its chains up from the store.
   */
  private async complete(unit: Unit, batch: readonly GoipEvent[], reload: boolean): Promise<void> {
    const previous = this.lastCall;
    let called!: () => void;
    this.lastCall = new Promise((resolve) => {
      called = resolve;
    });
    let committed: Awaited<ReturnType<ReceiveStore['commit']>>;
    try {
      await this.read(unit);
      await previous;
      const commit = this.ports.store.commit(unit.writes);
      called();
      committed = await commit;
    } catch (err) {
      called();
      this.undo(unit, batch, err, reload);
      throw err;
    }
    this.durable(unit, batch, committed.inboxIds, committed.syncError);
  }

  /** Reply correlation for the unit's SMS, and the send of each DELIVER report (its state written with them). */
  private async read(unit: Unit): Promise<void> {
    await this.replyTo(unit.stored.filter((message) => message.event === 'sms' && message.from !== undefined && message.from !== ''));
    for (const { message, record } of unit.delivers) {
      const report = message.payload as DeliveryPayload;
      const now = Date.now();
      const messageId = await this.deliverySend(message.line, report, now);
      report.messageId = messageId;
      record.messageId = messageId;
      if (messageId !== null && report.state !== null) unit.writes.deliveries.push({ messageId, tpStatus: report.state, at: now });
    }
  }

  private async deliverySend(line: string, report: DeliveryPayload, now: number): Promise<string | null> {
    if (report.smsNo === null) return null;
    try {
      return await this.ports.store.deliverySend(line, report.smsNo, this.options.deliveryWindowMs, now);
    } catch (err) {
      this.ports.warn(err);
      return null;
    }
  }

  /** Nothing of the unit was stored: its reports are refused (the GoIP resends), its takes wait for the next commit. */
  private undo(unit: Unit, batch: readonly GoipEvent[], err: unknown, reload = true): void {
    this.failed(err);
    for (const event of batch) event.receipt?.refuse();
    this.consumers.putBack(unit.writes.takes);
    if (reload) this.parts?.reload();
  }

  /**
   * A commit was written (syncError null: on the disk): its reports are acked, then its messages go
   * out (the acks first: the flows' work would delay them). When the sync failed the rows are in
   * the store but maybe not on the disk: the acks are refused (the GoIP resends, which may store a
   * message twice: at least once) and the messages still go out.
   */
  private durable(unit: Unit, batch: readonly GoipEvent[], inboxIds: readonly number[], syncError: Error | null): void {
    try {
      if (syncError === null) this.recovered();
      else this.failed(syncError);
      for (const event of batch) {
        if (syncError === null) event.receipt?.ack();
        else event.receipt?.refuse();
      }
      unit.stored.forEach((message, i) => {
        message.inboxId = inboxIds[i];
      });
      if (this.closed) return; // untaken in the store: the next start hands them out
      for (const message of unit.stored) {
        this.ports.publish(message);
        this.consumers.hand(message);
      }
    } catch (error) {
      this.ports.warn(error);
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

  /** msg.goip.inReplyTo of each SMS: the last SMS sent to its sender within the reply window (one read for all). */
  private async replyTo(messages: GoipEvent[]): Promise<void> {
    if (this.options.replyWindowMs <= 0 || messages.length === 0) return;
    const sent = await this.ports.store.lastSentToEach(messages.map((message) => ({ number: message.from as string, since: message.receivedAt - this.options.replyWindowMs })));
    messages.forEach((message, i) => {
      const last = sent[i];
      if (last !== null) message.inReplyTo = { messageId: last.messageId, batchId: last.batchId, sentAt: new Date(last.sentAt).toISOString(), line: last.line } satisfies ReplyTo;
    });
  }
}
