/**
 * The GoIP "SMS server": one UDP socket, the registry of lines, authentication, acks and
 * de-duplication of device reports. Knows nothing of Node-RED nor of its consumers: it emits
 * each report as it came, and a listener that throws never reaches the socket or the acks.
 */
import { EventEmitter } from 'node:events';
import type dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import {
  definitionFor,
  type Fields,
  formatRegAck,
  formatReportAck,
  formatReportError,
  type Keepalive,
  parseDeviceMessage,
  type Report,
} from '../protocol';
import { emitIsolated } from './fan-out';
import { addressKey, type LineInfo, type LineState } from './lines';
import { LineRegistry } from './registry';
import { dedupKey, RepeatFilter } from './repeats';
import {
  type GoipEvent,
  type GoipServerEvents,
  type GoipServerOptions,
  type ReportReceipt,
  type ResolvedServerOptions,
  resolveServerOptions,
  type ServerCounters,
} from './server-types';
import { UdpEndpoint } from './udp-endpoint';

export type {
  DeliveryCorrelator,
  DeliveryPayload,
  DeviceCredential,
  GoipEvent,
  GoipServerEvents,
  GoipServerOptions,
  ReplyTo,
  ReportReceipt,
  ServerCounters,
} from './server-types';

/** UDP payloads cannot be larger; anything near it is hostile or broken. */
const MAX_DATAGRAM_BYTES = 65_507;

export class GoipServer extends EventEmitter<GoipServerEvents> {
  readonly counters: ServerCounters = {
    datagrams: 0,
    invalid: 0,
    rejected: 0,
    duplicates: 0,
    emitted: 0,
    strayReplies: 0,
    sendErrors: 0,
    listenerErrors: 0,
  };

  private readonly options: ResolvedServerOptions;
  private readonly registry: LineRegistry;
  private readonly repeats = new RepeatFilter();
  private readonly endpoint = new UdpEndpoint({
    message: (buffer, rinfo) => this.onDatagram(buffer, rinfo),
    error: (err) => {
      this.counters.sendErrors++;
      this.tell('socketError', err);
    },
  });
  private sweepTimer: NodeJS.Timeout | null = null;
  private deferredVerbs: ReadonlySet<string> = new Set();

  constructor(options: GoipServerOptions) {
    super();
    this.options = resolveServerOptions(options);
    this.registry = new LineRegistry(options.devices, this.options);
  }

  /**
   * Binds the socket. Rejects with a readable BindError (port in use, permission; ESTOPPED when
   * stop() came first) and leaves nothing open.
   */
  async start(): Promise<AddressInfo> {
    const { bind, port, receiveBufferBytes } = this.options;
    const address = await this.endpoint.open(bind, port, receiveBufferBytes);
    const sweepMs = Math.max(50, Math.min(1000, Math.floor(this.options.offlineAfterMs / 10)));
    this.sweepTimer = setInterval(() => this.sweepOffline(), sweepMs);
    this.sweepTimer.unref?.();
    return address;
  }

  stop(): Promise<void> {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    return this.endpoint.close();
  }

  /** Where the socket is bound, null before start() resolves and after stop(). */
  address(): AddressInfo | null {
    return this.endpoint.address;
  }

  lines(): LineInfo[] {
    return [...this.registry.all()].map((line) => line.info());
  }

  line(id: string): LineInfo | undefined {
    return this.registry.get(id)?.info();
  }

  onlineCount(): number {
    return this.registry.onlineCount();
  }

  get lineCount(): number {
    return this.registry.size;
  }

  /** The line's password, for requests that carry it (bulk PASSWORD, commands). */
  passwordOf(id: string): string | undefined {
    return this.registry.passwordOf(id);
  }

  /**
   * Sends `text` to the line's registered address, the only place a reply ever goes.
   * False when the line is unknown or has never registered.
   */
  sendToLine(id: string, text: string): boolean {
    const line = this.registry.get(id);
    if (line === undefined || line.address === null || line.port === null) return false;
    this.sendTo(text, line.address, line.port);
    return true;
  }

  /**
   * Reports of these verbs are not acked on arrival: their event carries a receipt, and the ack
   * goes out when the consumer calls receipt.ack() (after storing it). A resend that arrives
   * meanwhile waits for the same ack; one after a refuse() is processed again.
   */
  deferAcks(verbs: readonly string[]): void {
    this.deferredVerbs = new Set(verbs);
  }

  /** A report `line` sent at `at` (ms epoch) was stored before a restart: its resend is a repeat. Oldest first. */
  rememberReport(line: string, key: number, at: number): void {
    this.registry.get(line)?.dedup.remember(key, at);
  }

  // ---- inbound ----

  private onDatagram(buffer: Buffer, rinfo: dgram.RemoteInfo): void {
    const arrivedAt = performance.now();
    this.counters.datagrams++;
    if (buffer.length === 0 || buffer.length > MAX_DATAGRAM_BYTES) {
      this.counters.invalid++;
      return;
    }
    const text = buffer.toString('utf8');
    const message = parseDeviceMessage(text);
    switch (message.kind) {
      case 'keepalive':
        this.onKeepalive(message, rinfo);
        return;
      case 'report':
        this.onReport(message, text, rinfo, arrivedAt);
        return;
      case 'reply':
      case 'gsm': {
        const line = this.registry.at(rinfo.address, rinfo.port);
        if (line === undefined) {
          this.counters.strayReplies++;
          return;
        }
        this.markSeen(line);
        this.tell('reply', line.id, message);
        return;
      }
      case 'invalid':
        this.counters.invalid++;
        return;
    }
  }

  private onKeepalive(k: Keepalive, rinfo: dgram.RemoteInfo): void {
    const line = this.registry.authenticate(k.id, k.password);
    if (line === undefined) {
      this.reject(k.id);
      // A keepalive rejection goes to its sender (it has no registered address), rate-limited.
      if (this.registry.mayReplyRejection(rinfo.address, rinfo.port, Date.now())) {
        this.sendTo(formatRegAck(k.count, this.options.rejectStatus), rinfo.address, rinfo.port);
      }
      return;
    }
    this.registry.register(line, rinfo.address, rinfo.port);
    line.applyKeepalive(k);
    line.counters.keepalives++;
    this.sendTo(formatRegAck(k.count, this.options.ackStatus), rinfo.address, rinfo.port);
    this.markSeen(line);
    this.publish({ event: 'keepalive', line: line.id, payload: line.info(), fields: Object.assign(k.fields, { id: k.id, req: k.count }) });
  }

  private onReport(report: Report, text: string, rinfo: dgram.RemoteInfo, arrivedAt: number): void {
    const definition = definitionFor(report.verb);
    const line = this.registry.authenticate(report.id, report.password);
    if (line === undefined) {
      this.reject(report.id);
      // Answer a bad report only at the address its claimed line registered from: never to a
      // stranger, so spoofed sources get nothing back.
      const claimed = this.registry.get(report.id);
      if (definition.ack && claimed?.address != null && claimed.addressKey === addressKey(rinfo.address, rinfo.port)) {
        const reason = this.registry.isConfigured(report.id) ? 'password' : 'id';
        this.sendTo(formatReportError(report.verb, report.reportId, reason), rinfo.address, rinfo.port);
      }
      return;
    }
    if (line.address === null) this.registry.register(line, rinfo.address, rinfo.port);
    const deferred = definition.ack && this.deferredVerbs.has(report.verb);
    if (definition.ack && !deferred) this.ack(line, report, arrivedAt);
    this.markSeen(line);

    const key = dedupKey(report, text);
    if (this.repeats.isRepeat(line, report, key, Date.now())) {
      // Stored already: acked again. Still being stored: the pending ack answers it too.
      if (deferred && !line.unacked.has(key)) this.ack(line, report, arrivedAt);
      line.counters.duplicates++;
      this.counters.duplicates++;
      return;
    }
    line.counters.reports++;
    if (definition.event === 'sms') line.counters.sms++;
    const fields: Fields = Object.assign(report.fields, { id: report.id, verb: report.verb, reportId: report.reportId });
    const event: Omit<GoipEvent, 'receivedAt'> = {
      event: definition.event,
      line: line.id,
      payload: definition.payload(report.fields),
      fields,
    };
    if (definition.event === 'sms') event.from = report.fields.srcnum ?? '';
    if (deferred) event.receipt = this.receipt(line, report, key, arrivedAt);
    this.publish(event);
  }

  private ack(line: LineState, report: Report, arrivedAt: number): void {
    this.sendToLine(line.id, formatReportAck(report.verb, report.reportId));
    this.tell('reportAcked', line.id, report.verb, (performance.now() - arrivedAt) / 1000);
  }

  private receipt(line: LineState, report: Report, key: number, arrivedAt: number): ReportReceipt {
    line.unacked.add(key);
    let answered = false;
    const answer = (stored: boolean): void => {
      if (answered) return;
      answered = true;
      line.unacked.delete(key);
      if (stored) this.ack(line, report, arrivedAt);
      else line.dedup.forget(key);
    };
    return { key, ack: () => answer(true), refuse: () => answer(false) };
  }

  private reject(id: string): void {
    this.counters.rejected++;
    this.registry.countRejection(id);
  }

  private markSeen(line: LineState): void {
    if (!this.registry.markSeen(line, Date.now())) return;
    this.publish({ event: 'online', line: line.id, payload: line.info(), fields: { id: line.id } });
    this.tell('lines');
  }

  private sweepOffline(): void {
    const gone = this.registry.sweepOffline(Date.now(), this.options.offlineAfterMs);
    for (const line of gone) this.publish({ event: 'offline', line: line.id, payload: line.info(), fields: { id: line.id } });
    if (gone.length > 0) this.tell('lines');
  }

  private publish(event: Omit<GoipEvent, 'receivedAt'>): void {
    this.counters.emitted++;
    (event as GoipEvent).receivedAt = Date.now(); // in place: each caller hands a fresh object
    this.tell('event', event as GoipEvent);
  }

  /** Emits to every listener in isolation: a throw is counted and reported, never propagated. */
  private tell<K extends keyof GoipServerEvents>(name: K, ...args: GoipServerEvents[K]): void {
    emitIsolated(this, name, args, (error) => {
      this.counters.listenerErrors++;
      if (name === 'listenerError') return;
      this.tell('listenerError', error, name);
    });
  }

  private sendTo(text: string, address: string, port: number): void {
    if (!this.endpoint.isOpen) return;
    this.tell('datagramOut', text, address, port);
    this.endpoint.send(text, address, port);
  }
}
