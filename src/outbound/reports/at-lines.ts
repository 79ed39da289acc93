/**
 * The AT-stream line reassembler of one line: AT packets (in their session/count order) in,
 * complete module output lines out. A packet may hold several lines or stop inside one, even
 * inside a PDU; packets may also each hold one line without a line break. A PDU announced by
 * `AT+CMGS=<n>`, `+CDS: <n>` or `+CMT: ,<n>` is framed by its announced length, so it comes out
 * as soon as it is complete, without waiting for its line break.
 *
 * And the +CMGS message-reference learner of one line (MessageReferences): which TP-MR the module
 * gave to which recipient, and when. The recipient comes from what the GoIP wrote before (the
 * SMS-SUBMIT PDU, or a text-mode `AT+CMGS="<number>"`), the TP-MR from the module's `+CMGS: <mr>`
 * after it. It remembers the sends of one window, at most `maxSendsPerLine` of them.
 */
import { sameNumber } from '../../pdu';

/** A PDU announced (by `AT+CMGS=<n>`, `+CDS: <n>`, `+CMT: ,<n>`) and expected next. */
export interface Announcement {
  kind: 'submit' | 'report' | 'deliver';
  /** TPDU octets: the PDU line holds the SMSC field too. */
  octets: number;
}

/** One complete line of the module's output, `write:` and `> ` prefixes and Ctrl-Z removed. */
export type ModuleLine =
  /** Any line but an announced PDU; `announces` when it announces one. */
  | { kind: 'text'; text: string; announces: Announcement | null }
  /** The hex line after an announcement, upper case. */
  | { kind: 'pdu'; hex: string; announced: Announcement };

/** Where a packet stands in its AT session (the ATSTART sendid) and count, when known. */
export interface PacketOrder {
  session?: number | null;
  count?: number | null;
}

/** A partial line longer than any PDU line is garbage. */
const MAX_PARTIAL = 1024;
/** A status report TPDU is at most 164 octets (with its optional user data). */
const MAX_REPORT_OCTETS = 164;

const HEX = /^[0-9A-Fa-f]+$/;
const LINE_BREAK = /\r\n|\r|\n|\x1a/;

/** `> ` prompts and `write:` prefixes in front of a line. */
function bare(text: string): string {
  let out = text.replace(/\x1a/g, '').trim();
  for (;;) {
    if (out.startsWith('write:')) out = out.slice('write:'.length).trim();
    else if (out.startsWith('>')) out = out.slice(1).trim();
    else return out;
  }
}

/** Hex characters a PDU line announced by `announcement` holds (SMSC octet, its address, the TPDU). */
function expectedLength(announcement: Announcement, hex: string): number {
  const sca = hex.length >= 2 ? Number.parseInt(hex.slice(0, 2), 16) : 0;
  return 2 * (1 + sca + announcement.octets);
}

function pduUnfinished(announcement: Announcement | null, text: string): boolean {
  if (announcement === null) return false;
  const hex = bare(text);
  return hex !== '' && HEX.test(hex) && hex.length < expectedLength(announcement, hex);
}

/** The PDU a line announces, null when it announces none. */
function announcementOf(text: string): Announcement | null {
  let m: RegExpExecArray | null;
  if ((m = /^AT\+CMGS=(\d{1,3})$/i.exec(text)) !== null) return { kind: 'submit', octets: Number(m[1]) };
  if ((m = /^\+CDS:\s*(\d{1,3})$/.exec(text)) !== null) return { kind: 'report', octets: Number(m[1]) };
  if ((m = /^\+CMT:\s*(?:"[^"]*"|[^,"]*),\s*(\d{1,3})$/.exec(text)) !== null) return { kind: 'deliver', octets: Number(m[1]) };
  return null;
}

export class AtLineReassembler {
  /** Text after the last line break, waiting for the rest of its line. */
  private partial = '';
  private announced: Announcement | null = null;
  private currentSession: number | null = null;
  private lastCount: number | null = null;

  /** The AT session of the last packet that carried one, null before. */
  get session(): number | null {
    return this.currentSession;
  }

  /**
   * Whether a packet in `order` is new: one whose count is not above the last one of its session
   * is a duplicate (false). A gap in the counts (lost packets) or a new session drops the
   * unfinished line.
   */
  accept(order: PacketOrder): boolean {
    const session = order.session ?? null;
    const count = order.count ?? null;
    if (session === null || count === null || !Number.isFinite(session) || !Number.isFinite(count)) return true;
    if (this.currentSession === session && this.lastCount !== null) {
      if (count <= this.lastCount) return false;
      if (count !== this.lastCount + 1) this.reset();
    } else if (this.currentSession !== null && this.currentSession !== session) {
      this.reset();
    }
    this.currentSession = session;
    this.lastCount = count;
    return true;
  }

  /** Drops the unfinished line and the PDU announced. */
  reset(): void {
    this.partial = '';
    this.announced = null;
  }

  /** The text of an accepted packet: the lines it completes, in order. */
  take(text: string): ModuleLine[] {
    const lines: ModuleLine[] = [];
    const complete = (raw: string): void => {
      const line = this.complete(raw);
      if (line !== null) lines.push(line);
    };
    if (text.startsWith('write:')) {
      // What the GoIP wrote to the module: whole in its packet, unless a long PDU goes on in the next.
      if (this.partial !== '') complete(this.partial);
      this.partial = '';
      const pieces = text.slice('write:'.length).split(LINE_BREAK);
      pieces.forEach((piece, i) => {
        if (i === pieces.length - 1 && pduUnfinished(this.announced, piece)) this.partial = piece;
        else complete(piece);
      });
      return lines;
    }
    let data = text;
    if (this.partial !== '') {
      if (this.continues(this.partial, text)) data = this.partial + text;
      else complete(this.partial);
      this.partial = '';
    }
    const pieces = data.split(LINE_BREAK);
    const rest = pieces.pop() ?? '';
    for (const piece of pieces) complete(piece);
    const hex = bare(rest);
    if (this.announced !== null && hex !== '' && HEX.test(hex) && !pduUnfinished(this.announced, rest)) {
      // An announced PDU is complete: no need to wait for its line break.
      complete(rest);
    } else if (rest.length > MAX_PARTIAL) {
      this.reset();
    } else {
      this.partial = rest;
    }
    return lines;
  }

  /** A raw line as it comes out (null when blank); tracks the PDU it announces. */
  private complete(raw: string): ModuleLine | null {
    const text = bare(raw);
    if (text === '') return null;
    const announced = this.announced;
    this.announced = null;
    if (announced !== null && HEX.test(text)) return { kind: 'pdu', hex: text.toUpperCase(), announced };
    this.announced = announcementOf(text);
    return { kind: 'text', text, announces: this.announced };
  }

  /**
   * Whether `chunk` goes on with the unfinished `partial` (a packet boundary inside a line) or
   * starts a new line (packets that each hold one line without a line break).
   */
  private continues(partial: string, chunk: string): boolean {
    const c = chunk.charAt(0);
    if (c === '' || c === '\r' || c === '\n') return true;
    if (pduUnfinished(this.announced, partial)) return /[0-9A-Fa-f]/.test(c);
    if (this.announced !== null && HEX.test(bare(partial))) return false; // the PDU is complete
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
}

/** One send learnt from the stream. */
export interface SendRecord {
  /** TP-MR from `+CMGS: <mr>`. */
  reference: number;
  /** From the written SMS-SUBMIT (or text-mode AT+CMGS), null when the stream did not show it. */
  recipient: string | null;
  /** When the `+CMGS:` was seen (ms epoch). */
  at: number;
}

export interface MessageReferenceLimits {
  /** How long a send is remembered (ms). */
  windowMs: number;
  /** Sends remembered at most. */
  maxSendsPerLine: number;
}

export class MessageReferences {
  /** Recipient of the SMS being sent (between AT+CMGS and +CMGS:), null unknown. */
  private pendingRecipient: string | null = null;
  /** Oldest first. */
  private readonly sends: SendRecord[] = [];

  constructor(private readonly limits: MessageReferenceLimits) {}

  /** The recipient of the SMS being sent as the stream shows it; null when unknown or the send failed. */
  sending(recipient: string | null): void {
    this.pendingRecipient = recipient;
  }

  /** `+CMGS: <reference>`: the SMS being sent went out. False for a reference no TP-MR can be. */
  sent(reference: number, now: number): boolean {
    if (reference > 255) return false;
    this.sends.push({ reference, recipient: this.pendingRecipient, at: now });
    this.pendingRecipient = null;
    this.prune(now);
    return true;
  }

  /** The newest send with `reference` to `recipient` (or to an unknown one) within the window. */
  find(reference: number, recipient: string, now: number): SendRecord | null {
    this.prune(now);
    const oldest = now - this.limits.windowMs;
    for (let i = this.sends.length - 1; i >= 0; i--) {
      const send = this.sends[i];
      if (send.at < oldest) break;
      if (send.reference !== reference) continue;
      if (send.recipient === null || sameNumber(send.recipient, recipient)) return send;
    }
    return null;
  }

  /** Oldest first (inspection, tests). */
  list(): SendRecord[] {
    return [...this.sends];
  }

  private prune(now: number): void {
    const oldest = now - this.limits.windowMs;
    let drop = Math.max(0, this.sends.length - this.limits.maxSendsPerLine);
    while (drop < this.sends.length && this.sends[drop].at < oldest) drop++;
    if (drop > 0) this.sends.splice(0, drop);
  }
}
