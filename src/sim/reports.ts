/**
 * Device reports (RECEIVE, DELIVER, STATE, ..., AT): one mechanism for all. A report the codec
 * marks as acked is resent, byte for byte, every receiveRetryMs up to receiveRetries times until
 * `VERB $id OK` (or `... ERROR ...`) arrives; AT packets go once.
 */
import { definitionFor, type Fields, formatReport } from '../protocol';
import type { LineContext, ReportResult } from './options';
import type { TimerHandle } from './timers';

interface Pending {
  verb: string;
  reportId: string;
  text: string;
  attempts: number;
  timer: TimerHandle | null;
  resolve(result: ReportResult): void;
}

export interface ReportAck {
  verb: string;
  reportId: string;
  ok: boolean;
  error: string;
}

export class ReportSender {
  /** Report ids count down from a timestamp, as the specification describes (docs/protocol.md#device-reports). */
  private nextId: number;
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly ctx: LineContext) {
    this.nextId = ctx.options.reportIdStart;
  }

  /** Sends `VERB:<next id>;id;password;fields...`; resolves once acked, refused or given up. */
  send(verb: string, fields: Fields): Promise<ReportResult> {
    const reportId = String(this.nextId--);
    const text = this.format(verb, reportId, fields);
    if (!definitionFor(verb).ack) {
      this.ctx.send(text);
      return Promise.resolve({ verb, reportId, acked: false, attempts: 1 });
    }
    return new Promise((resolve) => {
      const entry: Pending = { verb, reportId, text, attempts: 0, timer: null, resolve };
      this.pending.set(key(verb, reportId), entry);
      this.attempt(entry);
    });
  }

  /** Sends an AT packet: its id is the ATSTART sendid, not a report id, and nothing acks it. */
  sendAtPacket(sendId: number, count: number, receive: string): void {
    this.ctx.send(this.format('AT', String(sendId), { count: String(count), receive }));
  }

  /** True when the ack settled a report still waiting; late and unknown acks return false. */
  onAck(ack: ReportAck): boolean {
    const entry = this.pending.get(key(ack.verb, ack.reportId));
    this.ctx.ledger.recordAck({ line: this.ctx.options.id, ...ack, at: Date.now() });
    if (entry === undefined) return false;
    this.settle(entry, ack.ok ? { acked: true } : { acked: false, error: ack.error });
    return true;
  }

  /** Ends every waiting report unacked (the line stops). */
  abandonAll(): void {
    for (const entry of [...this.pending.values()]) this.settle(entry, { acked: false });
  }

  private attempt(entry: Pending): void {
    if (entry.attempts > this.ctx.options.receiveRetries) {
      this.settle(entry, { acked: false });
      return;
    }
    entry.attempts++;
    this.ctx.send(entry.text);
    entry.timer = this.ctx.timers.after(this.ctx.options.receiveRetryMs, () => this.attempt(entry));
  }

  private settle(entry: Pending, outcome: { acked: boolean; error?: string }): void {
    this.ctx.timers.cancel(entry.timer);
    this.pending.delete(key(entry.verb, entry.reportId));
    const result: ReportResult = { verb: entry.verb, reportId: entry.reportId, attempts: entry.attempts, ...outcome };
    this.ctx.emit('report', result);
    entry.resolve(result);
  }

  private format(verb: string, reportId: string, fields: Fields): string {
    const { id, password, reportPasswordKey } = this.ctx.options;
    return formatReport(verb, reportId, id, password, fields, reportPasswordKey);
  }
}

function key(verb: string, reportId: string): string {
  return `${verb} ${reportId}`;
}
