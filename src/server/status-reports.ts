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
 * Per line, the watcher rebuilds lines from the packets (a packet may hold several lines or stop
 * inside one, even inside a PDU), learns (TP-MR, recipient, time) of each send, decodes each
 * status report, correlates it to the send (line + TP-MR + recipient + window) and through the
 * outbox to the message (same recipient, sent near the `+CMGS:`), records the TP-Status there
 * (markDelivery) and publishes a `delivery` event shaped like a DELIVER report's, with
 * `fields.source = 'pdu'`. Unknown sends still give an event (messageId null); garbage gives none.
 *
 * Memory is bounded: sends per line (count and window), recent report keys, the partial line.
 */
import { EventEmitter } from 'node:events';
import type { Outbox } from '../outbox/types';
import {
  decodeDeliver,
  decodeStatusReport,
  decodeSubmit,
  type DeliverMessage,
  PduError,
  sameNumber,
  type StatusReport,
} from '../pdu';
import { parseTextStatusReport } from '../pdu/text-mode';
import { deliveryStatus, type Fields } from '../protocol';
import type { DeliveryPayload, GoipEvent, GoipServer } from './goip-server';

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

/** The part of the outbox the watcher uses. */
export type StatusReportOutbox = Pick<Outbox, 'findSentTo' | 'markDelivery'>;

/** The part of the server the watcher uses (a GoipServer). */
export type StatusReportServer = Pick<GoipServer, 'on' | 'off'>;

/** One send learnt from the stream. */
export interface SendRecord {
  /** TP-MR from `+CMGS: <mr>`. */
  reference: number;
  /** From the written SMS-SUBMIT (or text-mode AT+CMGS), null when the stream did not show it. */
  recipient: string | null;
  /** When the `+CMGS:` was seen (ms epoch). */
  at: number;
}

/** Payload of the `delivery` events the watcher publishes: a DELIVER report's, smsNo null. */
export type PduDeliveryPayload = DeliveryPayload;

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

/** A PDU announced (by `AT+CMGS=<n>`, `+CDS: <n>`, `+CMT: ,<n>`) and expected next. */
interface Expected {
  kind: 'submit' | 'report' | 'deliver';
  /** TPDU octets: the PDU line holds the SMSC field too. */
  octets: number;
}

interface LineWatch {
  /** Text after the last line break, waiting for the rest of its line. */
  partial: string;
  expected: Expected | null;
  /** Recipient of the SMS being sent (between AT+CMGS and +CMGS:), null unknown. */
  pendingRecipient: string | null;
  /** Oldest first. */
  sends: SendRecord[];
  /** Keys of recent reports (the PDU), newest last. */
  reports: string[];
  session: number | null;
  count: number | null;
}

const DEFAULTS: StatusReportOptions = {
  windowMs: 6 * 3600_000,
  maxSendsPerLine: 1024,
  sendSlackMs: 5 * 60_000,
  now: Date.now,
};

/** A partial line longer than any PDU line is garbage. */
const MAX_PARTIAL = 1024;
const MAX_REPORT_KEYS = 64;
const MAX_LINES = 4096;
/** A status report TPDU is at most 164 octets (with its optional user data). */
const MAX_REPORT_OCTETS = 164;

const HEX = /^[0-9A-Fa-f]+$/;

/** `> ` prompts and `write:` prefixes in front of a line. */
function bare(text: string): string {
  let out = text.replace(/\x1a/g, '').trim();
  for (;;) {
    if (out.startsWith('write:')) out = out.slice('write:'.length).trim();
    else if (out.startsWith('>')) out = out.slice(1).trim();
    else return out;
  }
}

/** Hex characters a PDU line announced for `expected` holds (SMSC octet, its address, the TPDU). */
function expectedLength(expected: Expected, hex: string): number {
  const sca = hex.length >= 2 ? Number.parseInt(hex.slice(0, 2), 16) : 0;
  return 2 * (1 + sca + expected.octets);
}

function pduUnfinished(expected: Expected | null, text: string): boolean {
  if (expected === null) return false;
  const hex = bare(text);
  return hex !== '' && HEX.test(hex) && hex.length < expectedLength(expected, hex);
}

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
    return [...(this.lines.get(line)?.sends ?? [])];
  }

  /**
   * Takes one AT packet of `line`: its text, and its session (the ATSTART sendid) and count when
   * known. A packet whose count is not above the last one of its session is a duplicate and
   * dropped; a gap in the counts (lost packets) discards the unfinished line.
   */
  feed(line: string, text: string, packet: { session?: number | null; count?: number | null } = {}): void {
    const watch = this.watch(line);
    const session = packet.session ?? null;
    const count = packet.count ?? null;
    if (session !== null && count !== null && Number.isFinite(session) && Number.isFinite(count)) {
      if (watch.session === session && watch.count !== null) {
        if (count <= watch.count) {
          this.counters.duplicatePackets++;
          return;
        }
        if (count !== watch.count + 1) this.resetStream(watch);
      } else if (watch.session !== null && watch.session !== session) {
        this.resetStream(watch);
      }
      watch.session = session;
      watch.count = count;
    }
    this.counters.packets++;
    try {
      this.consume(line, watch, text);
    } catch (err) {
      // Never let one odd packet stop the stream (or the server's emit loop).
      this.resetStream(watch);
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

  // ---- lines out of packets ----

  private watch(line: string): LineWatch {
    let watch = this.lines.get(line);
    if (watch === undefined) {
      if (this.lines.size >= MAX_LINES) this.lines.delete(this.lines.keys().next().value as string);
      watch = { partial: '', expected: null, pendingRecipient: null, sends: [], reports: [], session: null, count: null };
      this.lines.set(line, watch);
    }
    return watch;
  }

  private resetStream(watch: LineWatch): void {
    watch.partial = '';
    watch.expected = null;
  }

  private consume(line: string, watch: LineWatch, text: string): void {
    if (text.startsWith('write:')) {
      // What the GoIP wrote to the module: whole in its packet, unless a long PDU goes on in the next.
      if (watch.partial !== '') this.onLine(line, watch, watch.partial);
      watch.partial = '';
      const pieces = text.slice('write:'.length).split(/\r\n|\r|\n|\x1a/);
      pieces.forEach((piece, i) => {
        if (i === pieces.length - 1 && pduUnfinished(watch.expected, piece)) watch.partial = piece;
        else this.onLine(line, watch, piece);
      });
      return;
    }
    let data = text;
    if (watch.partial !== '') {
      if (this.continues(watch, watch.partial, text)) data = watch.partial + text;
      else this.onLine(line, watch, watch.partial);
      watch.partial = '';
    }
    const pieces = data.split(/\r\n|\r|\n|\x1a/);
    const rest = pieces.pop() ?? '';
    for (const piece of pieces) this.onLine(line, watch, piece);
    const hex = bare(rest);
    if (watch.expected !== null && hex !== '' && HEX.test(hex) && !pduUnfinished(watch.expected, rest)) {
      // An announced PDU is complete: no need to wait for its line break.
      this.onLine(line, watch, rest);
    } else if (rest.length > MAX_PARTIAL) {
      this.resetStream(watch);
    } else {
      watch.partial = rest;
    }
  }

  /**
   * Whether `chunk` goes on with the unfinished `partial` (a packet boundary inside a line) or
   * starts a new line (packets that each hold one line without a line break).
   */
  private continues(watch: LineWatch, partial: string, chunk: string): boolean {
    const c = chunk.charAt(0);
    if (c === '' || c === '\r' || c === '\n') return true;
    if (pduUnfinished(watch.expected, partial)) return /[0-9A-Fa-f]/.test(c);
    if (watch.expected !== null && HEX.test(bare(partial))) return false; // the PDU is complete
    if (c === '+') return /[",]$/.test(partial); // a new result line, unless inside a text-mode field
    const number = /^\+(CMGS|CDS|CMS ERROR):\s*(\d+)$/.exec(partial.trim());
    if (number !== null) {
      if (c === ',') return number[1] !== 'CMS ERROR';
      const more = /^\d+/.exec(chunk);
      if (more === null) return false;
      const joined = Number(number[2] + more[0]);
      return number[1] === 'CMGS' ? joined <= 255 : number[1] === 'CDS' ? joined <= MAX_REPORT_OCTETS : joined <= 999;
    }
    return !/^(OK|ERROR|>)$/.test(partial.trim());
  }

  // ---- one line ----

  private onLine(line: string, watch: LineWatch, raw: string): void {
    const text = bare(raw);
    if (text === '') return;
    const expected = watch.expected;
    if (expected !== null) {
      watch.expected = null;
      if (HEX.test(text)) {
        this.onPdu(line, watch, expected, text.toUpperCase());
        return;
      }
    }
    let m: RegExpExecArray | null;
    if ((m = /^AT\+CMGS=(\d{1,3})$/i.exec(text)) !== null) {
      watch.pendingRecipient = null;
      watch.expected = { kind: 'submit', octets: Number(m[1]) };
    } else if ((m = /^AT\+CMGS="([^"]*)"/i.exec(text)) !== null) {
      watch.pendingRecipient = m[1].trim() === '' ? null : m[1].trim();
    } else if ((m = /^\+CMGS:\s*(\d{1,3})(?:\s*,.*)?$/.exec(text)) !== null) {
      this.onSent(watch, Number(m[1]));
    } else if (/^\+CMS ERROR\b/.test(text) || text === 'ERROR') {
      watch.pendingRecipient = null;
    } else if ((m = /^\+CDS:\s*(\d{1,3})$/.exec(text)) !== null) {
      watch.expected = { kind: 'report', octets: Number(m[1]) };
    } else if ((m = /^\+CDS:\s*(\d.*,.*)$/.exec(text)) !== null) {
      const fields = m[1];
      const report = this.decoded(() => parseTextStatusReport(fields));
      if (report !== null) this.onReport(line, watch, report, text);
    } else if ((m = /^\+CMT:\s*(?:"[^"]*"|[^,"]*),\s*(\d{1,3})$/.exec(text)) !== null) {
      watch.expected = { kind: 'deliver', octets: Number(m[1]) };
    }
  }

  private onPdu(line: string, watch: LineWatch, expected: Expected, hex: string): void {
    // Some modules leave the SMSC field out: a PDU of exactly the TPDU length gets an empty one.
    const candidates = hex.length === 2 * expected.octets ? [hex, `00${hex}`] : [hex];
    switch (expected.kind) {
      case 'submit': {
        const submit = this.decodedAny(candidates, decodeSubmit);
        watch.pendingRecipient = submit?.recipient || null;
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

  // ---- sends and reports ----

  private onSent(watch: LineWatch, reference: number): void {
    if (reference > 255) return;
    const now = this.options.now();
    watch.sends.push({ reference, recipient: watch.pendingRecipient, at: now });
    watch.pendingRecipient = null;
    this.counters.sends++;
    this.prune(watch, now);
  }

  private prune(watch: LineWatch, now: number): void {
    const oldest = now - this.options.windowMs;
    let drop = Math.max(0, watch.sends.length - this.options.maxSendsPerLine);
    while (drop < watch.sends.length && watch.sends[drop].at < oldest) drop++;
    if (drop > 0) watch.sends.splice(0, drop);
  }

  /** The newest send of the line with the report's TP-MR and recipient, within the window. */
  private findSend(watch: LineWatch, report: StatusReport, now: number): SendRecord | null {
    const oldest = now - this.options.windowMs;
    for (let i = watch.sends.length - 1; i >= 0; i--) {
      const send = watch.sends[i];
      if (send.at < oldest) break;
      if (send.reference !== report.reference) continue;
      if (send.recipient === null || sameNumber(send.recipient, report.recipient)) return send;
    }
    return null;
  }

  private onReport(line: string, watch: LineWatch, report: StatusReport, key: string): void {
    if (watch.reports.includes(key)) {
      this.counters.duplicateReports++;
      return;
    }
    watch.reports.push(key);
    if (watch.reports.length > MAX_REPORT_KEYS) watch.reports.shift();
    const now = this.options.now();
    this.prune(watch, now);
    const send = this.findSend(watch, report, now);
    const messageId = send === null ? null : this.correlate(line, send, report, now);
    if (messageId !== null) this.counters.correlated++;
    this.counters.reports++;
    const payload: PduDeliveryPayload = {
      to: report.recipient,
      state: report.status,
      status: deliveryStatus(report.status),
      smsNo: null,
      messageId,
    };
    const fields: Fields = {
      id: line,
      verb: 'AT',
      source: 'pdu',
      reference: String(report.reference),
      recipient: report.recipient,
      tpStatus: String(report.status),
      serviceCentreTime: report.serviceCentreTime?.iso ?? '',
      dischargeTime: report.dischargeTime?.iso ?? '',
      pdu: key,
    };
    if (watch.session !== null) fields.reportId = String(watch.session);
    this.emit('delivery', { event: 'delivery', line, payload, fields, receivedAt: Date.now() });
  }

  /** The outbox message of `send` (same line, recipient, sent near its `+CMGS:`), TP-Status recorded. */
  private correlate(line: string, send: SendRecord, report: StatusReport, now: number): string | null {
    const outbox = this.outbox;
    if (outbox === null) return null;
    const numbers = [send.recipient, report.recipient].filter((n): n is string => n !== null && n !== '');
    try {
      for (const number of new Set(numbers)) {
        const recipient = outbox.findSentTo(line, number, send.at, this.options.sendSlackMs);
        if (recipient === null) continue;
        outbox.markDelivery(recipient.messageId, report.status, now);
        return recipient.messageId;
      }
    } catch (err) {
      this.warn(err);
    }
    return null;
  }

  private warn(err: unknown): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', err instanceof Error ? err : new Error(String(err)));
  }
}
