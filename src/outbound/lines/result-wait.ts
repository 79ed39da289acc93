/**
 * A session's wait for the pushed OK/ERROR of its accepted number. Resending while the device
 * waits has produced duplicate SMS on some firmware, so the same SEND is re-asked only when the
 * push must have been lost: the result is overdue by the line's radio pace, or a number queued
 * after it on the one radio has its result; else after waitRecheckMs of silence. Without a
 * result for acceptedTimeoutMs the number is given up on (silentTooLong).
 */
import { formatBulkSend } from '../../protocol';
import type { SessionPorts } from '../session/ports';
import type { OneTimer } from '../../link/step-retransmitter';
import type { Tel } from '../session/numbers';

type WaitPorts = Pick<SessionPorts, 'options' | 'clock' | 'link' | 'radio' | 'roundTrips'>;

export class ResultWait {
  /** The accepted number being re-asked early (its result was lost), and its re-asks so far. */
  private reasking: Tel | null = null;
  private reasks = 0;

  constructor(
    private readonly ports: WaitPorts,
    private readonly line: string,
    private readonly sendId: number,
    /** The session's one timer. */
    private readonly timer: OneTimer,
    private readonly silentTooLong: (tel: Tel) => void,
  ) {}

  /** After a WAIT (or a silence taken for one): the long wait for the pushed result starts over. */
  start(tel: Tel): void {
    tel.recheckAt = this.ports.clock.now() + this.ports.options.waitRecheckMs;
    this.armNextCheck(tel);
  }

  /** `tel` accepted before `askedAfterSeq` was counted is off the radio: its pushed result was lost. */
  radioPassed(tel: Tel, askedAfterSeq: number): void {
    if (tel.acceptSeq === null || tel.acceptSeq > askedAfterSeq || this.reasking === tel) return;
    this.reaskNow(tel);
  }

  /** Another number of the line got its result: `tel` may be next on the radio now. */
  paceChanged(tel: Tel): void {
    if (this.reasking !== tel) this.armNextCheck(tel);
  }

  /** waitRecheckMs of silence: re-ask, or give up once acceptedTimeoutMs has passed. */
  recheck(tel: Tel): void {
    if (this.ports.clock.now() - (tel.acceptedAt ?? 0) >= this.ports.options.acceptedTimeoutMs) return this.silentTooLong(tel);
    this.reaskNow(tel);
  }

  private armNextCheck(tel: Tel): void {
    const now = this.ports.clock.now();
    const recheckAt = Math.min(tel.recheckAt, (tel.acceptedAt ?? now) + this.ports.options.acceptedTimeoutMs);
    // Once the line answered a re-ask with WAIT (still sending) its pace says nothing more here.
    const overdueAt = this.reasking === tel ? null : this.ports.radio.overdueAt(this.line, tel);
    if (overdueAt !== null && overdueAt < recheckAt) return this.timer.arm(overdueAt - now, () => this.reaskNow(tel));
    this.timer.arm(recheckAt - now, () => this.recheck(tel));
  }

  /**
   * Re-asks a number whose pushed result was lost, and again while nothing answers, the gap
   * doubling from the round-trip timeout up to waitRecheckMs. A WAIT answer (still sending) ends
   * this: start()'s long wait follows.
   */
  private reaskNow(tel: Tel): void {
    this.reasking = tel;
    this.reasks = 0;
    this.reaskAgain(tel);
  }

  private reaskAgain(tel: Tel): void {
    const now = this.ports.clock.now();
    const failAt = (tel.acceptedAt ?? now) + this.ports.options.acceptedTimeoutMs;
    if (now >= failAt) return this.recheck(tel);
    // The same SEND again: the line answers from its memory of recent telids.
    tel.reasked = true;
    this.ports.link.send(this.line, formatBulkSend(this.sendId, tel.telId, tel.recipient.number));
    const gap = this.ports.roundTrips.retransmitDelay(this.line, this.reasks++, this.ports.options.waitRecheckMs);
    this.timer.arm(Math.min(gap, failAt - now), () => this.reaskAgain(tel));
  }
}
