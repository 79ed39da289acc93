/**
 * What happened "over the air": every SMS a line's radio actually sent and every report ack the
 * lines received. One ledger may be shared by many lines (a fleet, a benchmark).
 */
import { EventEmitter } from 'node:events';

export interface SentSms {
  line: string;
  number: string;
  text: string;
  sendId: number;
  telId: number;
  smsNo: number;
  /** ms since epoch. */
  at: number;
}

export interface ReceivedAck {
  line: string;
  verb: string;
  reportId: string;
  ok: boolean;
  /** The server's error text of `VERB $id ERROR $errmsg`, '' on OK. */
  error: string;
  at: number;
}

export interface DuplicateSms {
  number: string;
  text: string;
  count: number;
  sends: SentSms[];
}

export interface LedgerEvents {
  sent: [SentSms];
  ack: [ReceivedAck];
}

export class Ledger extends EventEmitter<LedgerEvents> {
  readonly sent: SentSms[] = [];
  readonly acks: ReceivedAck[] = [];

  recordSent(sms: SentSms): void {
    this.sent.push(sms);
    this.emit('sent', sms);
  }

  recordAck(ack: ReceivedAck): void {
    this.acks.push(ack);
    this.emit('ack', ack);
  }

  /** How often `number` got an SMS (with exactly `text`, when given), over every line. */
  timesSent(number: string, text?: string): number {
    return this.sent.filter((s) => s.number === number && (text === undefined || s.text === text)).length;
  }

  /** Every (number, text) that went over the air more than once. */
  duplicates(): DuplicateSms[] {
    const groups = new Map<string, SentSms[]>();
    for (const sms of this.sent) {
      const key = JSON.stringify([sms.number, sms.text]);
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [sms]);
      else group.push(sms);
    }
    return [...groups.values()]
      .filter((sends) => sends.length > 1)
      .map((sends) => ({ number: sends[0].number, text: sends[0].text, count: sends.length, sends }));
  }

  clear(): void {
    this.sent.length = 0;
    this.acks.length = 0;
  }
}
