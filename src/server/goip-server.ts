/**
 * The GoIP "SMS server": one UDP socket, the registry of lines, authentication, acks and
 * de-duplication of device reports. Knows nothing of Node-RED; emits typed events.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  definitionFor,
  type DeliveryStatus,
  type Fields,
  formatRegAck,
  formatReportAck,
  formatReportError,
  type GsmReply,
  type Keepalive,
  parseDeviceMessage,
  type Reply,
  type Report,
} from '../protocol';
import { fnv1a, murmurMix } from '../util/hash';
import { addressKey, type LineInfo, LineState } from './lines';

export interface DeviceCredential {
  id: string;
  password: string;
}

export interface GoipServerOptions {
  /** Address to bind, default 0.0.0.0 (an IPv6 address binds udp6). */
  bind?: string;
  /** UDP port, default 44444; 0 picks a free one. */
  port?: number;
  /** The lines allowed to register. */
  devices: readonly DeviceCredential[];
  /** Keepalive ok-code sent in `reg:N;status:X;` (the CN seed says 0; vendor servers send 200). */
  ackStatus?: string;
  /** Keepalive code for an unknown id or a wrong password; default 404 beside 200, else 1. */
  rejectStatus?: string;
  /** Silence after which a line is offline, default 92 s (the vendor's figure). */
  offlineAfterMs?: number;
  /** How long a report id is remembered for de-duplication, default 10 min (devices resend for ~12 s). */
  dedupWindowMs?: number;
  /** Remembered report ids per line at most, default 1024 (devices resend within ~12 s). */
  dedupMaxEntries?: number;
  /** Least interval between two rejection replies to one source address, default 1 s. */
  rejectReplyIntervalMs?: number;
  /** Socket receive buffer asked of the OS (capped by it), default 4 MiB: bursts from many lines queue there. */
  receiveBufferBytes?: number;
}

export interface GoipEvent {
  /** goip-in event name: sms, delivery, state, ..., keepalive, online, offline. */
  event: string;
  line: string;
  payload: unknown;
  /** Every parsed field (password removed) plus the report's verb and id. */
  fields: Fields;
  /** Sender of an SMS. */
  from?: string;
  receivedAt: number;
}

/** Payload of a `delivery` event (a DELIVER report). */
export interface DeliveryPayload {
  to: string;
  /** GSM 03.40 TP-Status, null when absent. */
  state: number | null;
  status: DeliveryStatus;
  smsNo: number | null;
  /** The outbound message the report belongs to, set by the delivery correlator; null unknown. */
  messageId: string | null;
}

/**
 * Finds the outbound message a delivery report of `line` belongs to (by sms_no and recency) and
 * returns its messageId, or null. Called once per report (never for a resent duplicate), before
 * the `delivery` event is published.
 */
export type DeliveryCorrelator = (line: string, delivery: Readonly<DeliveryPayload>) => string | null;

export interface ServerCounters {
  datagrams: number;
  invalid: number;
  rejected: number;
  duplicates: number;
  emitted: number;
  /** Replies from an address no line registered. */
  strayReplies: number;
  /** Socket errors after start (send failures among them). */
  sendErrors: number;
}

export interface GoipServerEvents {
  event: [GoipEvent];
  /** A reply to a server request (bulk session step or command) from a registered line. */
  reply: [line: string, reply: Reply | GsmReply];
  /** Lines went online or offline. */
  lines: [];
  /** A socket error after start (never thrown). */
  socketError: [Error];
  /** Every datagram the server sends, for tracing and tests. */
  datagramOut: [text: string, address: string, port: number];
}

/** UDP payloads cannot be larger; anything near it is hostile or broken. */
const MAX_DATAGRAM_BYTES = 65_507;
const REJECT_MEMORY_MAX = 10_000;

export class GoipServer extends EventEmitter<GoipServerEvents> {
  readonly counters: ServerCounters = {
    datagrams: 0,
    invalid: 0,
    rejected: 0,
    duplicates: 0,
    emitted: 0,
    strayReplies: 0,
    sendErrors: 0,
  };

  private readonly options: Required<Omit<GoipServerOptions, 'devices'>>;
  private readonly passwords = new Map<string, string>();
  private readonly lineStates = new Map<string, LineState>();
  private readonly byAddress = new Map<string, LineState>();
  private readonly lastRejectReply = new Map<string, number>();
  private socket: dgram.Socket | null = null;
  private bound: AddressInfo | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private deliveryCorrelator: DeliveryCorrelator | null = null;
  /** Per line, the newest AT packet emitted: its session (ATSTART sendid) and count. */
  private readonly atLast = new Map<string, { session: number; count: number }>();

  constructor(options: GoipServerOptions) {
    super();
    const ackStatus = options.ackStatus ?? '0';
    this.options = {
      bind: options.bind ?? '0.0.0.0',
      port: options.port ?? 44444,
      ackStatus,
      rejectStatus: options.rejectStatus ?? (ackStatus === '200' ? '404' : '1'),
      offlineAfterMs: options.offlineAfterMs ?? 92_000,
      dedupWindowMs: options.dedupWindowMs ?? 600_000,
      dedupMaxEntries: options.dedupMaxEntries ?? 1024,
      rejectReplyIntervalMs: options.rejectReplyIntervalMs ?? 1000,
      receiveBufferBytes: options.receiveBufferBytes ?? 4 * 1024 * 1024,
    };
    for (const device of options.devices) {
      this.passwords.set(device.id, device.password);
      this.lineStates.set(device.id, new LineState(device.id, this.options.dedupWindowMs, this.options.dedupMaxEntries));
    }
  }

  /** Binds the socket. Rejects with a readable error (port in use, permission) and leaves nothing open. */
  start(): Promise<AddressInfo> {
    if (this.socket !== null) return Promise.reject(new Error('GoIP server already started'));
    const { bind, port } = this.options;
    const socket = dgram.createSocket({ type: bind.includes(':') ? 'udp6' : 'udp4' });
    this.socket = socket;
    return new Promise<AddressInfo>((resolve, reject) => {
      const onStartError = (err: NodeJS.ErrnoException): void => {
        this.socket = null;
        socket.close();
        reject(new Error(describeBindError(err, bind, port)));
      };
      socket.once('error', onStartError);
      socket.bind(port, bind, () => {
        socket.off('error', onStartError);
        try {
          socket.setRecvBufferSize(this.options.receiveBufferBytes);
        } catch {
          // The OS keeps its own limit; a smaller buffer only matters under bursts.
        }
        socket.on('error', (err) => {
          this.counters.sendErrors++;
          this.emit('socketError', err);
        });
        socket.on('message', (buffer, rinfo) => this.onDatagram(buffer, rinfo));
        const sweepMs = Math.max(50, Math.min(1000, Math.floor(this.options.offlineAfterMs / 10)));
        this.sweepTimer = setInterval(() => this.sweepOffline(), sweepMs);
        this.sweepTimer.unref?.();
        this.bound = socket.address();
        resolve(this.bound);
      });
    });
  }

  stop(): Promise<void> {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    const socket = this.socket;
    this.socket = null;
    this.bound = null;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => {
      socket.close(() => resolve());
    });
  }

  /** Where the socket is bound, null before start() resolves and after stop(). */
  address(): AddressInfo | null {
    return this.bound;
  }

  lines(): LineInfo[] {
    return [...this.lineStates.values()].map((line) => line.info());
  }

  line(id: string): LineInfo | undefined {
    return this.lineStates.get(id)?.info();
  }

  onlineCount(): number {
    let n = 0;
    for (const line of this.lineStates.values()) if (line.online) n++;
    return n;
  }

  get lineCount(): number {
    return this.lineStates.size;
  }

  /** The line's password, for requests that carry it (bulk PASSWORD, commands). */
  passwordOf(id: string): string | undefined {
    return this.passwords.get(id);
  }

  /**
   * Sends `text` to the line's registered address, the only place a reply ever goes.
   * False when the line is unknown or has never registered.
   */
  sendToLine(id: string, text: string): boolean {
    const line = this.lineStates.get(id);
    if (line === undefined || line.address === null || line.port === null) return false;
    this.sendTo(text, line.address, line.port);
    return true;
  }

  /** Installs (or, with null, removes) the hook that puts the messageId into `delivery` events. */
  setDeliveryCorrelator(correlator: DeliveryCorrelator | null): void {
    this.deliveryCorrelator = correlator;
  }

  /**
   * Publishes an event that no single datagram carried but that was derived from reports (a
   * `delivery` decoded from the AT stream by StatusReportWatcher): 'event' listeners get it like
   * any other. No ack, no de-duplication, no delivery correlator (the deriver correlates itself).
   */
  publishDerived(event: Omit<GoipEvent, 'receivedAt'>): void {
    this.publish(event);
  }

  // ---- inbound ----

  private onDatagram(buffer: Buffer, rinfo: dgram.RemoteInfo): void {
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
        this.onReport(message, text, rinfo);
        return;
      case 'reply':
      case 'gsm': {
        const line = this.byAddress.get(addressKey(rinfo.address, rinfo.port));
        if (line === undefined) {
          this.counters.strayReplies++;
          return;
        }
        this.markSeen(line);
        this.emit('reply', line.id, message);
        return;
      }
      case 'invalid':
        this.counters.invalid++;
        return;
    }
  }

  private authenticate(id: string, password: string): LineState | undefined {
    const expected = this.passwords.get(id);
    if (expected === undefined || !constantTimeEqual(password, expected)) return undefined;
    return this.lineStates.get(id);
  }

  private onKeepalive(k: Keepalive, rinfo: dgram.RemoteInfo): void {
    const line = this.authenticate(k.id, k.password);
    if (line === undefined) {
      this.reject(k.id);
      this.replyRejection(formatRegAck(k.count, this.options.rejectStatus), rinfo);
      return;
    }
    this.register(line, rinfo.address, rinfo.port);
    line.applyKeepalive(k);
    line.counters.keepalives++;
    this.sendTo(formatRegAck(k.count, this.options.ackStatus), rinfo.address, rinfo.port);
    this.markSeen(line);
    this.publish({ event: 'keepalive', line: line.id, payload: line.info(), fields: Object.assign(k.fields, { id: k.id, req: k.count }) });
  }

  private onReport(report: Report, text: string, rinfo: dgram.RemoteInfo): void {
    const definition = definitionFor(report.verb);
    const line = this.authenticate(report.id, report.password);
    if (line === undefined) {
      this.reject(report.id);
      // Answer a bad report only at the address its claimed line registered from: never to a
      // stranger, so spoofed sources get nothing back.
      const claimed = this.lineStates.get(report.id);
      if (definition.ack && claimed?.address != null && claimed.addressKey === addressKey(rinfo.address, rinfo.port)) {
        const reason = this.passwords.has(report.id) ? 'password' : 'id';
        this.sendTo(formatReportError(report.verb, report.reportId, reason), rinfo.address, rinfo.port);
      }
      return;
    }
    if (line.address === null) this.register(line, rinfo.address, rinfo.port);
    if (definition.ack) this.sendToLine(line.id, formatReportAck(report.verb, report.reportId));
    this.markSeen(line);

    const key = dedupKey(report, text);
    if (line.dedup.seenBefore(key, Date.now())) {
      line.counters.duplicates++;
      this.counters.duplicates++;
      return;
    }
    if (report.verb === 'AT' && this.atOvertaken(line.id, report)) {
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
    if (definition.event === 'delivery') this.correlateDelivery(line.id, event.payload as DeliveryPayload);
    this.publish(event);
  }

  /**
   * AT packets reach flows in count order: one overtaken by a later packet of its session (or
   * from an older session, sendids rise) is dropped like a duplicate. Lost ones are never resent.
   */
  private atOvertaken(line: string, report: Report): boolean {
    const session = Number(report.reportId);
    const count = Number(report.fields.count);
    if (!Number.isSafeInteger(count)) return false;
    const last = this.atLast.get(line);
    if (last !== undefined && (session < last.session || (session === last.session && count <= last.count))) return true;
    this.atLast.set(line, { session, count });
    return false;
  }

  private correlateDelivery(line: string, payload: DeliveryPayload): void {
    const correlator = this.deliveryCorrelator;
    if (correlator === null) return;
    try {
      payload.messageId = correlator(line, payload);
    } catch {
      // The report is acked already: a failing correlator costs the messageId, never the event.
      payload.messageId = null;
    }
  }

  private reject(id: string): void {
    this.counters.rejected++;
    const line = this.lineStates.get(id);
    if (line !== undefined) line.counters.rejected++;
  }

  /** A keepalive rejection goes to its sender (it has no registered address), at most once a second per source. */
  private replyRejection(text: string, rinfo: dgram.RemoteInfo): void {
    const key = addressKey(rinfo.address, rinfo.port);
    const now = Date.now();
    const last = this.lastRejectReply.get(key);
    if (last !== undefined && now - last < this.options.rejectReplyIntervalMs) return;
    if (this.lastRejectReply.size >= REJECT_MEMORY_MAX) this.lastRejectReply.clear();
    this.lastRejectReply.set(key, now);
    this.sendTo(text, rinfo.address, rinfo.port);
  }

  private register(line: LineState, address: string, port: number): void {
    if (line.address === address && line.port === port) return;
    const oldKey = line.addressKey;
    if (oldKey !== null && this.byAddress.get(oldKey) === line) this.byAddress.delete(oldKey);
    line.address = address;
    line.port = port;
    this.byAddress.set(addressKey(address, port), line);
  }

  private markSeen(line: LineState): void {
    const now = Date.now();
    line.lastSeen = now;
    if (!line.online) {
      line.online = true;
      line.onlineSince = now;
      this.publish({ event: 'online', line: line.id, payload: line.info(), fields: { id: line.id } });
      this.emit('lines');
    }
  }

  private sweepOffline(): void {
    const now = Date.now();
    let changed = false;
    for (const line of this.lineStates.values()) {
      if (line.online && line.lastSeen !== null && now - line.lastSeen >= this.options.offlineAfterMs) {
        line.online = false;
        changed = true;
        this.publish({ event: 'offline', line: line.id, payload: line.info(), fields: { id: line.id } });
      }
    }
    if (changed) this.emit('lines');
  }

  private publish(event: Omit<GoipEvent, 'receivedAt'>): void {
    this.counters.emitted++;
    (event as GoipEvent).receivedAt = Date.now();
    this.emit('event', event as GoipEvent);
  }

  private sendTo(text: string, address: string, port: number): void {
    const socket = this.socket;
    if (socket === null) return;
    this.emit('datagramOut', text, address, port);
    // No per-send callback (it costs a closure and a completion per ack): send errors reach the
    // socket's 'error' listener instead.
    socket.send(text, port, address);
  }
}

/**
 * The same report resent carries the same verb, id and bytes; a new one differs in at least one.
 * The key is a 53-bit hash of all three (FNV-1a and a Murmur-style mix): numbers cost the garbage collector
 * far less than strings kept for minutes, and a collision (odds ~1e-10 within one line's window)
 * would at worst drop a report of that authenticated line, so a cryptographic hash buys nothing.
 */
function dedupKey(report: Report, text: string): number {
  const identity = report.verb === 'AT' ? `AT ${report.reportId} ${report.fields.count ?? ''}` : text;
  return fnv1a(identity) * 0x200000 + (murmurMix(identity) & 0x1fffff);
}

/** Compares without an early exit, so timing does not tell how much of a password was right. */
function constantTimeEqual(given: string, expected: string): boolean {
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= (given.charCodeAt(i) | 0) ^ expected.charCodeAt(i);
  return diff === 0;
}

export function describeBindError(err: NodeJS.ErrnoException, bind: string, port: number): string {
  const where = `${bind}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `UDP port ${port} is already in use (${where}): another GoIP server or program holds it`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied binding UDP ${where} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `address ${bind} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve bind address "${bind}"`;
    default:
      return `cannot bind UDP ${where}: ${err.message}`;
  }
}
