/**
 * Delivery reports from the AT stream. While an AT session is open (ATSTART), a line mirrors its
 * module's traffic as `at` events; among it:
 *
 *   write:AT+CMGS=38                      an SMS goes out (PDU mode, 38 TPDU octets)
 *   write:0031000B91...9988<Ctrl-Z>       the SMS-SUBMIT written: who it goes to
 *   +CMGS: 8                              the module's TP-MR for it (0-255, wraps)
 *   +CDS: 26                              later: an SMS-STATUS-REPORT, the PDU on the next line
 *   0006080D91683158136777F7...00
 *   +CMT: ,24  + PDU                      an inbound SMS-DELIVER (the GoIP also sends RECEIVE)
 *
 * Per line, the watcher rebuilds lines from the packets (./at-lines.ts), learns (TP-MR,
 * recipient, time) of each send (./at-lines.ts), decodes each status report, correlates
 * it to the send and the outbox message (./correlation.ts) and publishes a `delivery` event.
 * Unknown sends still give an event (messageId null); garbage gives none.
 *
 * Memory is bounded: lines, sends per line (count and window), recent report keys, the partial line.
 */
import { EventEmitter } from 'node:events';
import {
  decodeDeliver,
  decodeStatusReport,
  decodeSubmit,
  type DeliverMessage,
  parseTextStatusReport,
  PduError,
  type StatusReport,
} from '../../pdu';
import type { GoipEvent, GoipServer } from '../../link/goip-server';
import { type Announcement, AtLineReassembler, MessageReferences, type ModuleLine, type PacketOrder, type SendRecord } from './at-lines';
import { deliveryEvent, RecentReports, recordDelivery, type StatusReportOutbox } from './correlation';

export interface StatusReportOptions {
  /** How long a send waits for its reports, default 6 h (the bulk engine's delivery window). */
  windowMs: number;
  /** Sends remembered per line at most, default 1024 (four TP-MR cycles). */
  maxSendsPerLine: number;
  /** How far the outbox's sent time may be from the `+CMGS:`, default 5 min. */
  sendSlackMs: number;
  /** Clock (ms epoch); tests pin it. */
  now: () => number;
}

/** The part of the server the watcher uses (a GoipServer). */
export type StatusReportServer = Pick<GoipServer, 'on' | 'off'>;

export interface StatusReportCounters {
  /** AT packets taken (duplicates not counted). */
  packets: number;
  duplicatePackets: number;
  /** `+CMGS:` seen. */
  sends: number;
  /** Status reports decoded and published. */
  reports: number;
  /** ... of which matched an outbox message. */
  correlated: number;
  duplicateReports: number;
  /** PDUs or report lines that did not decode. */
  invalid: number;
  /** Inbound SMS-DELIVERs decoded (`+CMT:`). */
  inbound: number;
}

export interface StatusReportWatcherEvents {
  /** A delivery event, complete (the gateway publishes it beside the server's events). */
  delivery: [GoipEvent];
  /** An SMS-DELIVER from `+CMT:` (not published: the GoIP reports it as RECEIVE too). */
  sms: [line: string, message: DeliverMessage];
  /** A PDU that did not decode, or an outbox failure; the watcher carries on. */
  warning: [Error];
}

interface LineWatch {
  stream: AtLineReassembler;
  sends: MessageReferences;
  reports: RecentReports;
}

const DEFAULTS: StatusReportOptions = {
  windowMs: 6 * 3600_000,
  maxSendsPerLine: 1024,
  sendSlackMs: 5 * 60_000,
  now: Date.now,
};

const MAX_LINES = 4096;

export class StatusReportWatcher extends EventEmitter<StatusReportWatcherEvents> {
  readonly options: StatusReportOptions;
  readonly counters: StatusReportCounters = {
    packets: 0,
    duplicatePackets: 0,
    sends: 0,
    reports: 0,
    correlated: 0,
    duplicateReports: 0,
    invalid: 0,
    inbound: 0,
  };

  private readonly lines = new Map<string, LineWatch>();
  private running = false;

  constructor(
    private readonly server: StatusReportServer,
    private readonly outbox: StatusReportOutbox | null,
    options: Partial<StatusReportOptions> = {},
  ) {
    super();
    this.options = { ...DEFAULTS, ...options };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.server.on('event', this.onEvent);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.server.off('event', this.onEvent);
    this.lines.clear();
  }

  /** Sends learnt on `line`, oldest first (inspection, tests). */
  sendsOf(line: string): readonly SendRecord[] {
    return this.lines.get(line)?.sends.list() ?? [];
  }

  /**
   * Takes one AT packet of `line`: its text, and its session (the ATSTART sendid) and count when
   * known. A packet whose count is not above the last one of its session is a duplicate and
   * dropped; a gap in the counts (lost packets) discards the unfinished line.
   */
  feed(line: string, text: string, packet: PacketOrder = {}): void {
    const watch = this.watch(line);
    if (!watch.stream.accept(packet)) {
      this.counters.duplicatePackets++;
      return;
    }
    this.counters.packets++;
    try {
      for (const output of watch.stream.take(text)) this.onModuleLine(line, watch, output);
    } catch (err) {
      // Never let one odd packet stop the stream (or the server's emit loop).
      watch.stream.reset();
      this.warn(err);
    }
  }

  private readonly onEvent = (event: GoipEvent): void => {
    if (event.event !== 'at') return;
    const payload = event.payload as { count?: number | null; text?: unknown } | null;
    if (payload === null || typeof payload !== 'object' || typeof payload.text !== 'string') return;
    const session = Number(event.fields.reportId);
    this.feed(event.line, payload.text, { session: Number.isFinite(session) ? session : null, count: payload.count ?? null });
  };

  private watch(line: string): LineWatch {
    let watch = this.lines.get(line);
    if (watch === undefined) {
      if (this.lines.size >= MAX_LINES) this.lines.delete(this.lines.keys().next().value as string);
      watch = { stream: new AtLineReassembler(), sends: new MessageReferences(this.options), reports: new RecentReports() };
      this.lines.set(line, watch);
    }
    return watch;
  }

  // ---- one line of the module's output ----

  private onModuleLine(line: string, watch: LineWatch, output: ModuleLine): void {
    if (output.kind === 'pdu') {
      this.onPdu(line, watch, output.announced, output.hex);
      return;
    }
    const { text, announces } = output;
    if (announces !== null) {
      if (announces.kind === 'submit') watch.sends.sending(null);
      return;
    }
    let m: RegExpExecArray | null;
    if ((m = /^AT\+CMGS="([^"]*)"/i.exec(text)) !== null) {
      watch.sends.sending(m[1].trim() === '' ? null : m[1].trim());
    } else if ((m = /^\+CMGS:\s*(\d{1,3})(?:\s*,.*)?$/.exec(text)) !== null) {
      if (watch.sends.sent(Number(m[1]), this.options.now())) this.counters.sends++;
    } else if (/^\+CMS ERROR\b/.test(text) || text === 'ERROR') {
      watch.sends.sending(null);
    } else if ((m = /^\+CDS:\s*(\d.*,.*)$/.exec(text)) !== null) {
      const fields = m[1];
      const report = this.decoded(() => parseTextStatusReport(fields));
      if (report !== null) this.onReport(line, watch, report, text);
    }
  }

  private onPdu(line: string, watch: LineWatch, announced: Announcement, hex: string): void {
    // Some modules leave the SMSC field out: a PDU of exactly the TPDU length gets an empty one.
    const candidates = hex.length === 2 * announced.octets ? [hex, `00${hex}`] : [hex];
    switch (announced.kind) {
      case 'submit': {
        const submit = this.decodedAny(candidates, decodeSubmit);
        watch.sends.sending(submit?.recipient || null);
        return;
      }
      case 'report': {
        const report = this.decodedAny(candidates, decodeStatusReport);
        if (report !== null) this.onReport(line, watch, report, hex);
        return;
      }
      case 'deliver': {
        const message = this.decodedAny(candidates, decodeDeliver);
        if (message !== null) {
          this.counters.inbound++;
          this.emit('sms', line, message);
        }
        return;
      }
    }
  }

  private decodedAny<T>(candidates: readonly string[], decode: (hex: string) => T): T | null {
    let first: unknown = null;
    for (const hex of candidates) {
      try {
        return decode(hex);
      } catch (err) {
        first ??= err;
      }
    }
    this.invalid(first);
    return null;
  }

  private decoded<T>(decode: () => T): T | null {
    try {
      return decode();
    } catch (err) {
      this.invalid(err);
      return null;
    }
  }

  private invalid(err: unknown): void {
    this.counters.invalid++;
    if (err instanceof PduError) this.warn(new Error(`undecodable ${err.message} (${err.pdu})`));
    else this.warn(err);
  }

  // ---- reports ----

  private onReport(line: string, watch: LineWatch, report: StatusReport, key: string): void {
    if (!watch.reports.add(key)) {
      this.counters.duplicateReports++;
      return;
    }
    const now = this.options.now();
    const send = watch.sends.find(report.reference, report.recipient, now);
    const session = watch.stream.session;
    this.counters.reports++;
    if (send === null || this.outbox === null) {
      this.publish(deliveryEvent(line, report, null, key, session));
      return;
    }
    void this.correlate(line, send, report, now).then((messageId) => {
      if (messageId !== null) this.counters.correlated++;
      this.publish(deliveryEvent(line, report, messageId, key, session));
    });
  }

  /** The report's send in the store, its state recorded; a store failure is a warning and no messageId. */
  private async correlate(line: string, send: SendRecord, report: StatusReport, now: number): Promise<string | null> {
    try {
      return await recordDelivery(this.outbox as StatusReportOutbox, line, send, report, now, this.options.sendSlackMs);
    } catch (err) {
      this.warn(err);
      return null;
    }
  }

  /** The one place a derived `delivery` event leaves the watcher. */
  private publish(event: Omit<GoipEvent, 'receivedAt'>): void {
    this.emit('delivery', { ...event, receivedAt: Date.now() });
  }

  private warn(err: unknown): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', err instanceof Error ? err : new Error(String(err)));
  }
}
