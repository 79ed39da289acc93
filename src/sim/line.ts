/**
 * One GoIP line (channel) as a UDP peer of the SMS server: its own socket, id and password.
 * Speaks the device side of the protocol faithfully (docs/protocol.md): keepalive
 * registration, reports with ack/resend, bulk send sessions on a single radio, control commands,
 * USSD and the AT channel, all through seeded fault injection.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { type Fields, formatKeepalive, parseServerMessage } from '../protocol';
import { AtSession } from './at-session';
import { BulkSessions } from './bulk';
import { CommandHandler } from './commands';
import { type FaultCounters, FaultyPipe } from './faults';
import { Ledger } from './ledger';
import {
  initialState,
  type LineContext,
  type LineState,
  type ReportResult,
  type ResolvedOptions,
  resolveOptions,
  type SimLineEvents,
  type SimLineOptions,
} from './options';
import { Radio } from './radio';
import { ReportSender } from './reports';
import { Timers } from './timers';

export interface SimLineCounters {
  keepalivesSent: number;
  datagramsOut: number;
  /** Accepted from the server (after faults). */
  datagramsIn: number;
  /** From any other address: ignored. */
  stray: number;
  /** From the server but not a message the codec knows. */
  invalid: number;
  /** Report acks for nothing waiting (a late or repeated ack). */
  lateAcks: number;
}

interface Inbound {
  text: string;
  address: string;
  port: number;
}

export class SimLine extends EventEmitter<SimLineEvents> {
  readonly id: string;
  /** The device state keepalives report and commands change; tests may change it too. */
  readonly state: LineState;
  readonly ledger: Ledger;
  readonly counters: SimLineCounters = { keepalivesSent: 0, datagramsOut: 0, datagramsIn: 0, stray: 0, invalid: 0, lateAcks: 0 };

  private readonly options: ResolvedOptions;
  private readonly timers = new Timers();
  private readonly outbound: FaultyPipe<string>;
  private readonly inbound: FaultyPipe<Inbound>;
  private readonly reports: ReportSender;
  private readonly radio: Radio;
  private readonly bulk: BulkSessions;
  private readonly at: AtSession;
  private readonly commands: CommandHandler;
  private socket: dgram.Socket | null = null;
  private bound: AddressInfo | null = null;
  /** The server host resolved to an address, to recognise its datagrams. */
  private serverAddress: string | null = null;
  private keepaliveCount = 0;
  private isRegistered = false;

  constructor(options: SimLineOptions) {
    super();
    this.options = resolveOptions(options);
    this.id = options.id;
    this.state = initialState(options);
    this.ledger = options.ledger ?? new Ledger();
    this.outbound = new FaultyPipe(this.options.faults, 'out', this.timers, (text) => this.transmit(text));
    this.inbound = new FaultyPipe(this.options.faults, 'in', this.timers, (datagram) => this.onDatagram(datagram));
    const context: LineContext = {
      options: this.options,
      state: this.state,
      timers: this.timers,
      ledger: this.ledger,
      send: (text) => this.send(text),
      report: (verb, fields) => this.report(verb, fields),
      emit: (event, ...args) => void this.emit(event, ...(args as never)),
    };
    this.reports = new ReportSender(context);
    this.radio = new Radio(context);
    this.bulk = new BulkSessions(context, this.radio);
    this.at = new AtSession(context, this.reports);
    this.commands = new CommandHandler(context, this.at);
  }

  /** True from an ok keepalive ack until a rejection or stop(). */
  get registered(): boolean {
    return this.isRegistered;
  }

  /** The line's own socket address, null when stopped. */
  get address(): AddressInfo | null {
    return this.bound;
  }

  get openSessions(): number {
    return this.bulk.openCount;
  }

  /** SMS waiting for or on the radio. */
  get radioBacklog(): number {
    return this.radio.backlog;
  }

  get faultCounters(): { out: FaultCounters; in: FaultCounters } {
    return { out: { ...this.outbound.counters }, in: { ...this.inbound.counters } };
  }

  /**
   * Binds the line's socket, sends the first keepalive at once and then every interval. A line
   * started again after stop() is a rebooted device: keepalive count from 1, no sessions.
   */
  async start(): Promise<AddressInfo> {
    if (this.socket !== null) throw new Error(`line ${this.id} already started`);
    const { bindAddress, bindPort, server, keepaliveIntervalMs } = this.options;
    const family = bindAddress.includes(':') ? 6 : 4;
    this.serverAddress = isIP(server.host) !== 0 ? server.host : (await lookup(server.host, { family })).address;
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(bindPort, bindAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      this.socket = null;
      socket.close();
      throw err;
    });
    socket.on('error', (err) => this.emit('socketError', err));
    socket.on('message', (buffer, rinfo) => this.inbound.pass({ text: buffer.toString('utf8'), address: rinfo.address, port: rinfo.port }));
    this.bound = socket.address();
    this.keepaliveCount = 0;
    this.sendKeepalive();
    this.timers.every(keepaliveIntervalMs, () => this.sendKeepalive());
    return this.bound;
  }

  /**
   * The SMS server moved (its floating address is on another host now): the line goes on as it
   * is, its sessions and the radio's memory kept, and talks to `server` from its next datagram.
   */
  async moveTo(server: { host: string; port: number }): Promise<void> {
    const family = this.options.bindAddress.includes(':') ? 6 : 4;
    this.serverAddress = isIP(server.host) !== 0 ? server.host : (await lookup(server.host, { family })).address;
    this.options.server = { ...server };
    this.sendKeepalive();
  }

  /** Clears every timer, ends waiting reports unacked, drops sessions and closes the socket. */
  stop(): Promise<void> {
    this.timers.clearAll();
    this.reports.abandonAll();
    this.bulk.closeAll();
    this.at.stop();
    this.radio.clear();
    this.isRegistered = false;
    const socket = this.socket;
    this.socket = null;
    this.bound = null;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  /** `req:<count>;id;pass;num;signal;...` — old firmware stops after `signal:`. */
  sendKeepalive(): void {
    const s = this.state;
    const base: Fields = { num: s.num, signal: String(s.signal) };
    const fields: Fields =
      this.options.firmware === 'old'
        ? base
        : {
            ...base,
            gsm_status: s.moduleDown ? 'LOGOUT' : s.gsmStatus,
            voip_status: s.voipStatus,
            imei: s.imei,
            imsi: s.imsi,
            iccid: s.iccid,
            pro: s.carrier,
            ...this.options.extraKeepaliveFields,
          };
    this.counters.keepalivesSent++;
    this.send(formatKeepalive({ count: ++this.keepaliveCount, id: this.id, password: this.options.password, fields }));
  }

  /** An inbound SMS: `RECEIVE:<id>;id;password;srcnum;<extra>;msg:<text>` with ack/resend. */
  receiveSms(from: string, text: string, extraFields: Fields = {}): Promise<ReportResult> {
    return this.report('RECEIVE', { srcnum: from, ...extraFields, msg: text });
  }

  /** Any device report (DELIVER, STATE, RECORD, REMAIN, HANGUP, EXPIRY, CELLS, ...), acked and resent like RECEIVE. */
  report(verb: string, fields: Fields = {}): Promise<ReportResult> {
    if (this.socket === null) return Promise.reject(new Error(`line ${this.id} is not started`));
    return this.reports.send(verb, fields);
  }

  private send(text: string): void {
    if (this.socket === null) return;
    this.counters.datagramsOut++;
    this.emit('datagramOut', text);
    this.outbound.pass(text);
  }

  private transmit(text: string): void {
    const socket = this.socket;
    if (socket === null || this.serverAddress === null) return;
    socket.send(text, this.options.server.port, this.serverAddress, (err) => {
      if (err) this.emit('socketError', err);
    });
  }

  private onDatagram({ text, address, port }: Inbound): void {
    if (this.socket === null) return;
    if (address !== this.serverAddress || port !== this.options.server.port) {
      this.counters.stray++;
      this.emit('stray', text, address, port);
      return;
    }
    this.counters.datagramsIn++;
    this.emit('datagramIn', text);
    const message = parseServerMessage(text);
    switch (message.kind) {
      case 'regAck':
        this.onRegAck(message.count, message.status);
        return;
      case 'reportAck':
        if (!this.reports.onAck(message)) this.counters.lateAcks++;
        return;
      case 'bulkMessage':
      case 'bulkPassword':
      case 'bulkSend':
      case 'bulkDone':
        // A mute line keeps alive and answers commands but never a bulk session.
        if (!this.options.muteBulk) this.bulk.handle(message);
        return;
      case 'command':
        this.commands.handle(message);
        return;
      case 'invalid':
        this.counters.invalid++;
        return;
    }
  }

  private onRegAck(count: string, status: string): void {
    if (status !== this.options.okStatus) {
      this.isRegistered = false;
      this.emit('rejected', status);
      return;
    }
    if (this.isRegistered) return;
    this.isRegistered = true;
    this.emit('registered', count);
  }
}
