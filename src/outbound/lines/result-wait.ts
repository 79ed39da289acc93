/**
 * A number's wait for its pushed OK/ERROR: in its session (ResultWait), and after its session
 * ended while it may still be on the radio (WatchedNumbers).
 *
 * In the session: resending while the device waits has produced duplicate SMS on some firmware,
 * so the same SEND is re-asked only when the push must have been lost: the result is overdue by
 * the line's radio pace, or a number queued after it on the one radio has its result; else after
 * waitRecheckMs of silence. Without a result for acceptedTimeoutMs the number is given up on
 * (silentTooLong).
 */
import type { Recipient } from '../../outbox/types';
import { type BulkReply, formatBulkSend } from '../../protocol';
import type { BulkOptions } from '../options';
import type { SessionPorts } from '../session/ports';
import type { OneTimer } from '../../link/step-retransmitter';
import type { Tel } from '../session/numbers';
import type { TimerHandle, TimerRegistry } from './timers';

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

interface Watched {
  recipient: Recipient;
  timer: TimerHandle;
}

function telKey(line: string, sendId: number, telId: number): string {
  return `${line}\u0000${sendId}\u0000${telId}`;
}

/**
 * Numbers that may be on a line's radio after their session ended (abandoned, parked): they are
 * never sent elsewhere, only waited for, until their pushed result or acceptedTimeoutMs.
 */
export class WatchedNumbers {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly timers: TimerRegistry,
    private readonly options: BulkOptions,
    /** No result came within acceptedTimeoutMs of its acceptance. */
    private readonly expired: (recipient: Recipient) => void,
  ) {}

  get size(): number {
    return this.watched.size;
  }

  watch(line: string, sendId: number, tel: Tel): void {
    const key = telKey(line, sendId, tel.telId);
    if (this.watched.has(key)) return;
    const left = (tel.acceptedAt ?? Date.now()) + this.options.acceptedTimeoutMs - Date.now();
    const timer = this.timers.after(left, () => {
      this.watched.delete(key);
      this.expired(tel.recipient);
    });
    this.watched.set(key, { recipient: tel.recipient, timer });
  }

  /** The watched number `reply` is the pushed result of, no longer watched; null when none. */
  take(line: string, reply: BulkReply): Recipient | null {
    if (reply.kind !== 'sent' && reply.kind !== 'sendFailed') return null;
    const key = telKey(line, reply.sendId, reply.telId);
    const watched = this.watched.get(key);
    if (watched === undefined) return null;
    this.watched.delete(key);
    this.timers.cancel(watched.timer);
    return watched.recipient;
  }

  /** Numbers watched on `line`. */
  on(line: string): number {
    let n = 0;
    for (const { recipient } of this.watched.values()) if (recipient.line === line) n++;
    return n;
  }

  /** Forgets them (the engine stops; they stay claimed in the outbox). */
  clear(): void {
    this.watched.clear();
  }
}
