/**
 * GoipGateway: the whole GoIP SMS server as one object, without Node-RED. It owns and wires the
 * UDP server, the command client, the durable outbox, the bulk sender, the sending service and
 * the status-report watcher, starts them in order and stops them in order, and tells everything
 * on one typed event stream (device events, status, warnings).
 *
 * A failed bind that may pass (the port held by another program, the address not up yet) is
 * tried again with a doubling wait, so the gateway comes back on its own.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { SqliteDriverName } from '../outbox/sqlite-driver';
import { SqliteOutbox } from '../outbox/sqlite-outbox';
import { sqliteStore } from '../outbox/sqlite-store';
import { type GatewayStore, isGatewayStore, type ReceivePorts } from '../outbox/store-ports';
import { isReceivingStore, type Outbox } from '../outbox/types';
import { type DeliveryCorrelator, type DeliveryPayload, emitIsolated, type GoipEvent, GoipServer, type LineInfo } from '../link';
import { CommandClient } from '../link/commands';
import { BulkSender, deliveryCorrelator, StatusReportWatcher } from '../outbound';
import { isTransientBindError } from '../link/udp-endpoint';
import { Backoff } from './backoff';
import { ClusterMember } from './cluster-member';
import { GatewayFleet, type FleetLineView } from './fleet';
import { InboxService } from './inbox/inbox-service';
import { MemoryHeldParts } from './parts/memory-held-parts';
import { PartJoiner } from './parts/part-joiner';
import { DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS, OptOutKeywords } from './queue-opt-out';
import { DEFAULT_RETENTION_DAYS, RetentionSchedule } from './queue-retention';
import { SendingService } from './sending';
import type { GatewayStatus, GoipGatewayEvents, GoipGatewayOptions, WarningSource } from './types';

/** The status without the figures status() reads live from the server. */
type Phase = Exclude<GatewayStatus, { state: 'listening' }> | { state: 'listening' };

interface Sending {
  store: GatewayStore;
  /** The SQLite store's synchronous outbox; null on a shared store. */
  outbox: Outbox | null;
  sender: BulkSender;
  service: SendingService;
  /** The messageId of the send a DELIVER report is for (asked once per report, in its store commit). */
  correlate: DeliveryCorrelator;
}

export class GoipGateway extends EventEmitter<GoipGatewayEvents> {
  readonly server: GoipServer;
  readonly commands: CommandClient;
  readonly statusReports: StatusReportWatcher;
  /** The store behind sending and the inbox; null when sending is unavailable (see sendingError). */
  readonly store: GatewayStore | null;
  /** The embedded SQLite store's outbox; null on a shared store or when sending is unavailable. */
  readonly outbox: Outbox | null;
  readonly sender: BulkSender | null;
  /** Submitting batches and receiving their results; null when sending is unavailable. */
  readonly sending: SendingService | null;
  /** Why sending is unavailable (no store given, or it did not open), null when it is available. */
  readonly sendingError: Error | null;
  /** Routing groups, balance and number checks, line health. */
  readonly fleet: GatewayFleet;
  /** Joins long SMS received part by part before they are published. */
  readonly parts: PartJoiner;
  /** Received SMS and delivery reports, stored before their ack; null when off or without a store. */
  readonly inbox: InboxService | null;
  /** This gateway among the instances of a shared store; null on a store of its own. */
  readonly cluster: ClusterMember | null;

  private phase: Phase = { state: 'idle' };
  private readonly backoff: Backoff;
  private readonly warningIntervalMs: number;
  private readonly lastWarned = new Map<WarningSource, number>();
  private listening: Promise<AddressInfo | null> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly optOut: OptOutKeywords;
  private readonly retention: RetentionSchedule | null;
  private readonly correlateDelivery: DeliveryCorrelator;
  /** The wait before asking a store that did not answer again (start-up). */
  private readonly storeWait: Backoff;

  constructor(private readonly options: GoipGatewayOptions) {
    super();
    this.setMaxListeners(0); // one listener per consumer (goip-in node) is the normal case
    this.backoff = new Backoff(options.bindRetryMs ?? 1000, options.maxBindRetryMs ?? 30_000);
    this.storeWait = new Backoff(options.bindRetryMs ?? 1000, options.maxBindRetryMs ?? 30_000);
    this.warningIntervalMs = options.warningIntervalMs ?? 10_000;
    this.server = new GoipServer(options.server);
    this.commands = new CommandClient(this.server, options.commands);
    this.fleet = new GatewayFleet(options.fleet ?? {}, {
      server: this.server,
      commands: this.commands,
      publish: (event) => this.publish(event),
      warn: (err) => this.warn('fleet', err),
      kick: () => this.sender?.kick(),
    });
    let sending: Sending | null = null;
    let sendingError: Error | null = null;
    try {
      sending = this.openSending(options);
    } catch (err) {
      sendingError = err instanceof Error ? err : new Error(String(err));
    }
    this.store = sending?.store ?? null;
    this.outbox = sending?.outbox ?? null;
    this.sender = sending?.sender ?? null;
    this.correlateDelivery = sending?.correlate ?? (() => Promise.resolve(null));
    this.sending = sending?.service ?? null;
    this.sendingError = sendingError;
    const receive = sending?.store.receive ?? null;
    this.inbox =
      options.inbox !== false && sending !== null && receive !== null ? this.openInbox(receive, options, sending.sender.options.deliveryWindowMs) : null;
    const inbox = this.inbox;
    this.parts = new PartJoiner({
      enabled: options.joinParts ?? true,
      windowMs: options.joinWindowMs ?? 60_000,
      store:
        inbox !== null && receive !== null
          ? inbox.heldParts(receive.heldParts)
          : this.outbox !== null && isReceivingStore(this.outbox)
            ? this.outbox.heldParts()
            : new MemoryHeldParts(),
      publish: inbox === null ? (event) => this.publishSms(event) : (event) => inbox.record(event),
      warn: (err) => this.warn('parts', err),
      ...(inbox === null ? {} : { atomically: (work: () => void) => inbox.atomically(work) }),
    });
    inbox?.joinWith(this.parts);
    const queue = options.queue ?? {};
    this.optOut = new OptOutKeywords(queue.optOut ?? DEFAULT_OPT_OUT_KEYWORDS, queue.optIn ?? DEFAULT_OPT_IN_KEYWORDS);
    const retentionMs = queue.retentionMs ?? DEFAULT_RETENTION_DAYS * 86_400_000;
    this.retention =
      sending === null ? null : new RetentionSchedule(sending.store.outbox, retentionMs, sending.sender.options.deliveryWindowMs, (err) => this.warn('sending', err));
    // Delivery reports decoded from AT sessions (+CMGS / +CDS in the module's traffic), next to
    // the DELIVER reports the bulk sender correlates; without a store their messageId stays null.
    const windowMs = this.sender?.options.deliveryWindowMs;
    this.statusReports = new StatusReportWatcher(this.server, this.store?.deliveries ?? null, windowMs === undefined ? {} : { windowMs });
    const cluster = this.store?.cluster ?? null;
    this.cluster = cluster === null ? null : this.joinCluster(cluster);

    // Registered before the watcher and the sender listen: flows get an `at` packet before the
    // delivery decoded from it, as they always did.
    this.server.on('event', this.onServerEvent);
    this.server.on('lines', this.tellStatus);
    this.server.on('socketError', (err) => this.warn('socket', err));
    this.server.on('listenerError', (err) => this.warn('listener', err));
    this.commands.on('warning', (err) => this.warn('commands', err));
    this.sender?.on('warning', (err) => this.warn('sending', err));
    this.statusReports.on('warning', (err) => this.warn('status-reports', err));
    this.statusReports.on('delivery', (event) => (inbox === null ? this.publish(event) : inbox.accept(event)));
  }

  status(): GatewayStatus {
    if (this.phase.state !== 'listening') return this.phase;
    const address = this.server.address();
    if (address === null) return { state: 'starting' };
    const status: GatewayStatus = { state: 'listening', address, online: this.server.onlineCount(), lines: this.server.lineCount };
    const storeError = this.cluster?.failure;
    if (storeError != null) status.storeError = storeError;
    const inboxError = this.inbox?.error;
    if (inboxError != null) status.inboxError = inboxError;
    return status;
  }

  /** Each configured line as the link knows it, with the fleet's view of it (balance, quarantine, today's sends). */
  lineViews(): Array<LineInfo & FleetLineView> {
    return this.server.lines().map((line) => ({ ...line, ...this.fleet.lineView(line.id, this.sender) }));
  }

  /** The SQLite driver the store runs on; null without a SQLite store. */
  storeDriver(): SqliteDriverName | null {
    return this.outbox instanceof SqliteOutbox ? this.outbox.driver : null;
  }

  /**
   * Starts the commands and the watcher, binds the socket (again and again while the failure may
   * pass), then starts sending. Resolves with the bound address, or null when stop() came first;
   * rejects when the bind failed for good. A stopped gateway does not start again.
   */
  start(): Promise<AddressInfo | null> {
    if (this.stopping !== null) return Promise.reject(new Error('the GoIP gateway was stopped: create a new one'));
    this.listening ??= this.listen();
    return this.listening;
  }

  /**
   * Stops in order: open AT sessions get their ATSTOP and waiting commands fail 'stopped', the
   * sender stops (claimed recipients stay claimed: the next start resumes them), the outbox
   * closes, the socket closes. Settles a pending bind or retry wait too; nothing stays open.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private openSending(options: GoipGatewayOptions): Sending {
    const given = options.store ?? null;
    if (given === null) throw new Error('no store configured: sending is off');
    const outbox = isGatewayStore(given) ? null : typeof given === 'string' ? SqliteOutbox.open(given) : given;
    const store = outbox === null ? (given as GatewayStore) : sqliteStore(outbox, (err) => this.warn('inbox', err));
    try {
      const sender = new BulkSender(this.server, store.send, options.sending, this.fleet.engineHooks());
      this.fleet.watch(sender);
      const service = new SendingService(store, sender, (err) => this.warn('sending', err), {
        knownLines: () => new Set(this.server.lines().map((line) => line.id)),
        router: () => this.fleet.router,
      });
      const correlate = deliveryCorrelator(store.deliveries, sender.options.deliveryWindowMs, (err) => this.warn('sending', err));
      return { store, outbox, sender, service, correlate };
    } catch (err) {
      void store.close();
      throw err;
    }
  }

  /** Received SMS and DELIVER reports are acked once stored, and publish from the inbox. */
  private openInbox(receive: ReceivePorts, options: GoipGatewayOptions, deliveryWindowMs: number): InboxService {
    const inbox = new InboxService(
      {
        log: receive.log,
        store: receive.commit,
        publish: (event) => (event.event === 'sms' ? this.publishSms(event) : this.publish(event)),
        health: () => this.tellStatus(),
        warn: (err) => this.warn('inbox', err),
      },
      { replyWindowMs: options.replyWindowMs ?? 168 * 3600_000, deliveryWindowMs },
    );
    this.server.deferAcks(['RECEIVE', 'DELIVER']);
    return inbox;
  }

  private joinCluster(cluster: NonNullable<GatewayStore['cluster']>): ClusterMember {
    return new ClusterMember(cluster, {
      server: this.server,
      configured: () => {
        const lines = this.server.lines().map((line) => line.id);
        return { lines, groups: this.fleet.router.routableGroups(lines) ?? null };
      },
      taken: () => {
        this.sender?.resumeClaimed();
        this.sender?.kick();
      },
      work: () => this.sender?.kick(),
      lapsed: () => {
        this.inbox?.consumers.rescan();
        this.sending?.replayAll();
      },
      health: () => this.tellStatus(),
      warn: (err) => this.warn('store', err),
    });
  }

  /**
   * Before the socket: the store answers (tried again with a doubling wait while it does not),
   * the reports stored lately are known to the de-duplication (a resend of one acked just before
   * a restart is acked again, not stored twice), and the held parts of long SMS are taken up.
   * False when stop() came first.
   */
  private async prepare(): Promise<boolean> {
    const store = this.store;
    if (store !== null) {
      for (;;) {
        try {
          await store.ready();
          const log = store.receive?.log;
          if (this.inbox !== null && log !== undefined) {
            for (const report of await log.recentReports(Date.now() - (this.options.server.dedupWindowMs ?? 600_000))) {
              this.server.rememberReport(report.line, report.key, report.at);
            }
          }
          break;
        } catch (err) {
          if (this.stopping !== null) return false;
          this.setPhase({ state: 'waiting-store', error: err instanceof Error ? err : new Error(String(err)), retryInMs: this.storeWait.nextDelayMs });
          if (!(await this.storeWait.wait())) return false;
        }
      }
    }
    await this.parts.start();
    return this.stopping === null;
  }

  private async listen(): Promise<AddressInfo | null> {
    this.commands.start();
    this.statusReports.start();
    this.setPhase({ state: 'starting' });
    if (!(await this.prepare())) return null;
    this.setPhase({ state: 'starting' });
    for (;;) {
      try {
        const address = await this.server.start();
        if (this.stopping !== null) return null;
        this.setPhase({ state: 'listening' });
        await this.cluster?.start();
        this.sender?.start();
        this.fleet.checks.start();
        this.retention?.start();
        return address;
      } catch (err) {
        if (this.stopping !== null) return null;
        if (!isTransientBindError(err)) {
          this.setPhase({ state: 'failed', error: err as Error });
          throw err;
        }
        this.setPhase({ state: 'retrying', error: err, retryInMs: this.backoff.nextDelayMs });
        if (!(await this.backoff.wait())) return null;
      }
    }
  }

  private async shutdown(): Promise<void> {
    this.backoff.cancel();
    this.storeWait.cancel();
    this.fleet.checks.stop();
    this.parts.stop();
    this.statusReports.stop();
    this.retention?.stop();
    try {
      await Promise.all([this.commands.stop(), this.sender?.stop()]);
    } catch (err) {
      this.warn('stop', err);
    }
    try {
      await this.cluster?.stop();
      await this.inbox?.close();
      await this.sending?.close();
      await this.store?.close();
    } finally {
      this.server.removeAllListeners();
      await this.server.stop();
      // A bind still pending when stop() came has rejected by now: wait for it to settle.
      await this.listening?.catch(() => undefined);
      this.setPhase({ state: 'idle' });
    }
  }

  /** An sms goes through the part joiner; a DELIVER report becomes a delivery event once, with its messageId correlated first. */
  private readonly onServerEvent = (event: GoipEvent): void => {
    if (this.inbox !== null && (event.event === 'sms' || (event.event === 'delivery' && event.fields.verb === 'DELIVER'))) {
      this.inbox.accept(event);
      return;
    }
    if (event.event === 'sms') {
      this.parts.accept(event);
      return;
    }
    if (event.event !== 'delivery' || event.fields.verb !== 'DELIVER') {
      this.publish(event);
      return;
    }
    const report = event.payload as DeliveryPayload;
    void this.correlateDelivery(event.line, report).then((messageId) => this.publish({ ...event, payload: { ...report, messageId } }));
  };

  /** A received SMS (whole, or joined from its parts) goes out, then may opt its sender out or in. */
  private publishSms(event: GoipEvent): void {
    this.publish(event);
    this.optOutBy(event);
  }

  private optOutBy(event: GoipEvent): void {
    if (this.sending === null) return;
    this.optOut.apply(event, this.sending).then(
      (told) => {
        if (told !== null) this.publish(told);
      },
      (err: unknown) => this.warn('sending', err),
    );
  }

  private publish(event: GoipEvent): void {
    this.tell('event', event);
  }

  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.tellStatus();
  }

  private readonly tellStatus = (): void => {
    this.tell('status', this.status());
  };

  private warn(source: WarningSource, err: unknown): void {
    const now = Date.now();
    if (now - (this.lastWarned.get(source) ?? 0) < this.warningIntervalMs) return;
    this.lastWarned.set(source, now);
    const error = err instanceof Error ? err : new Error(String(err));
    emitIsolated(this, 'warning', [{ source, error }], () => undefined);
  }

  /** Every listener gets the event even when another throws; a throw becomes a 'listener' warning. */
  private tell<K extends keyof GoipGatewayEvents>(name: K, ...args: GoipGatewayEvents[K]): void {
    emitIsolated(this, name, args, (error) => this.warn('listener', error));
  }
}
