/**
 * The line's GSM module: one SMS at a time, smsRadioTimeMs each. Every SMS it manages to send
 * goes into the ledger with the line's sms_no, a per-line counter that wraps after 255.
 */
import type { SentSms } from './ledger';
import type { LineContext } from './options';

export interface RadioJob {
  number: string;
  text: string;
  sendId: number;
  telId: number;
}

export type RadioResult = { ok: true; sms: SentSms } | { ok: false };

export class Radio {
  private readonly queue: Array<{ job: RadioJob; done: (result: RadioResult) => void }> = [];
  private busy = false;
  private lastSmsNo = 0;

  constructor(private readonly ctx: LineContext) {}

  /** Jobs waiting or on the air. */
  get backlog(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  /** Forgets waiting jobs (the line stops; its timers are already cleared). */
  clear(): void {
    this.queue.length = 0;
    this.busy = false;
  }

  enqueue(job: RadioJob, done: (result: RadioResult) => void): void {
    this.queue.push({ job, done });
    this.next();
  }

  private next(): void {
    if (this.busy) return;
    const item = this.queue.shift();
    if (item === undefined) return;
    this.busy = true;
    this.ctx.timers.after(this.ctx.options.smsRadioTimeMs, () => {
      this.busy = false;
      item.done(this.transmit(item.job));
      this.next();
    });
  }

  private transmit(job: RadioJob): RadioResult {
    const { options, ledger } = this.ctx;
    const now = Date.now();
    if (options.fails(job.number)) {
      this.ctx.emit('smsFailed', { line: options.id, number: job.number, sendId: job.sendId, telId: job.telId, at: now });
      return { ok: false };
    }
    this.lastSmsNo = (this.lastSmsNo + 1) % 256;
    const sms: SentSms = { line: options.id, ...job, smsNo: this.lastSmsNo, at: now };
    ledger.recordSent(sms);
    this.ctx.emit('smsSent', sms);
    return { ok: true, sms };
  }
}
