/**
 * One bulk send session with one line (seed section 3), as a state machine:
 *
 *   opening --PASSWORD--> authenticating --SEND--> sending --WAIT--> accepted --OK/ERROR--> next number
 *      (MSG)                 (PASSWORD)             (SEND)   \------------OK/ERROR-------/   ... --> closing (DONE)
 *
 * Numbers go one at a time (the seed: the next SEND after OK/ERROR); the engine runs several
 * sessions per line so the single radio always has a next number. Every outcome (sent, failover,
 * failure, parking a line) is decided or stored by the host; this class only speaks the protocol
 * and keeps the timers of its steps.
 */
import type { Recipient } from '../../outbox/types';
import { type BulkReply, formatBulkDone, formatBulkMessage, formatBulkPassword, formatBulkSend } from '../../protocol';
import type { BulkOptions } from './options';
import { FAILURE, type ParkReason } from './policy';
import type { TimerHandle } from './timers';

/** One number of a session. */
export interface Tel {
  readonly recipient: Recipient;
  readonly telId: number;
  /** Claimed before a restart: the line may have it queued or sent it already. */
  readonly resumed: boolean;
  /**
   * The line answered WAIT, or stayed silent to its SEND while it was heard otherwise: it may be
   * sending it, so it is only ever re-asked with the same sendid/telid, never sent elsewhere.
   */
  accepted: boolean;
  /** When its first SEND left, null before. */
  firstAskedAt: number | null;
  /**
   * When the line took it, as near as can be told: when the WAIT to its first SEND came (later
   * than the truth only by that WAIT's way back), or its first SEND when that WAIT was lost.
   */
  takenAt: number | null;
  /** Start of the acceptedTimeoutMs clock, null while not accepted. */
  acceptedAt: number | null;
  /**
   * The line's acceptance count (SessionHost.noteAccepted) when its first WAIT arrived: the
   * line had queued it by then. Null until a WAIT came.
   */
  acceptSeq: number | null;
  /**
   * The line's acceptance count when its first SEND left: every number with an acceptSeq up to
   * this one was queued on the line's radio before this one could be. Null before, and always for
   * a resumed number (it may have been queued before the restart).
   */
  askedAfterSeq: number | null;
  /** A re-ask of it went out: a result now may be the line's answer from memory, not its push. */
  reasked: boolean;
  /** When the waitRecheckMs re-ask is due while it is accepted. */
  recheckAt: number;
}

function newTel(recipient: Recipient, telId: number, resumed: boolean, acceptedAt: number | null): Tel {
  return { recipient, telId, resumed, accepted: false, firstAskedAt: null, takenAt: null, acceptedAt, acceptSeq: null, askedAfterSeq: null, reasked: false, recheckAt: 0 };
}

/** The number may be on the line's radio: never mint a new telid for it, never send it elsewhere. */
export function mayBeOnRadio(tel: Tel): boolean {
  return tel.accepted || tel.resumed;
}

export type SessionPhase =
  /** MSG sent, waiting for `PASSWORD $sendid`. */
  | 'opening'
  /** PASSWORD sent, waiting for `SEND $sendid`. */
  | 'authenticating'
  /** SEND sent, waiting for WAIT/OK/ERROR. */
  | 'sending'
  /** SEND never answered: a last period for a late answer or a sign of life before failover. */
  | 'unanswered'
  /** The number is accepted: waiting for the pushed OK/ERROR, re-asking after long silence. */
  | 'accepted'
  /** Waiting for the line's pacing (minIntervalMs) before the next number. */
  | 'pacing'
  /** DONE sent. */
  | 'closing'
  /** The line is busy or unreachable: the session tries again later. */
  | 'backoff'
  | 'ended';

/** What a session needs from the engine: I/O, the outbox and the line scheduler. */
export interface SessionHost {
  readonly options: BulkOptions;
  now(): number;
  after(ms: number, run: () => void): TimerHandle;
  cancel(handle: TimerHandle | null): void;
  /** One datagram to the line; lost like any other when the line is unreachable. */
  send(line: string, datagram: string): void;
  password(line: string): string;
  /** Something (keepalive, reply, report) came from the line after `since`. */
  heardSince(line: string, since: number): boolean;
  lineOnline(line: string): boolean;
  /** The line may run this session now (online, not parked, within its session cap). */
  mayReopen(session: BulkSession): boolean;
  /** ms before the line may get a new number (pacing), 0 = now. */
  sendDelay(line: string): number;
  noteNewNumber(line: string): void;
  /** Claims the next number of the session's batch for its line with `telId`, null when none may go. */
  claimNext(session: BulkSession, telId: number): Recipient | null;
  sent(session: BulkSession, tel: Tel, smsNo: number | null): void;
  /** The line has not sent it and will not: another line or a final failure (policy). */
  giveUp(session: BulkSession, tel: Tel, reason: string): void;
  fail(session: BulkSession, tel: Tel, reason: string): void;
  /** A WAIT came for a number not accepted before: the line's next acceptance count. */
  noteAccepted(line: string): number;
  /** The line's acceptance count now. */
  acceptances(line: string): number;
  /**
   * A number of the line got its radio result (OK/ERROR) now. The line's pace learns from it, and
   * every number accepted up to its askedAfterSeq was before it on the line's one radio, so it is
   * done there too (its sessions hear radioPassed / paceChanged).
   */
  radioDone(line: string, tel: Tel): void;
  /** A number of the line was accepted: the order of its radio queue is better known. */
  radioQueueChanged(line: string): void;
  /** When `tel`'s result is overdue by the line's measured radio pace, null when that is unknown. */
  overdueAt(line: string, tel: Tel): number | null;
  /** A step was answered at its first transmission after `ms`. */
  noteRoundTrip(line: string, ms: number): void;
  /** When to send a datagram to the line again after `resends` resends so far, at most `capMs`. */
  retransmitDelay(line: string, resends: number, capMs: number): number;
  /** A number that may be on the radio outlives its session: wait for its pushed result. */
  watchAccepted(session: BulkSession, tel: Tel): void;
  /** The session is authorized: the line may open its next session. */
  handshakeDone(session: BulkSession): void;
  /** `too_many_sends_in_server`. */
  lineBusy(session: BulkSession): void;
  park(line: string, reason: ParkReason): void;
  /** Nothing came from the line since `since`. */
  lineSilent(line: string, since: number): void;
  ended(session: BulkSession): void;
}

/** Consecutive session opens without progress before the session gives up on its line. */
const MAX_OPEN_ROUNDS = 3;

export class BulkSession {
  private phaseNow: SessionPhase = 'opening';
  private currentTel: Tel | null;
  /** Resumed numbers waiting behind the current one. */
  private readonly queue: Tel[];
  private nextTelId: number;
  /** Numbers this session took (toward numbersPerSession). */
  private numbers: number;
  private retries = 0;
  private stepStartedAt = 0;
  private stepDatagram = '';
  private timer: TimerHandle | null = null;
  private openRounds = 0;
  private afterBackoff: 'open' | 'proceed' = 'open';
  /** The accepted number being re-asked early (its result was lost, see radioPassed), and its re-asks so far. */
  private reasking: Tel | null = null;
  private reasks = 0;

  private constructor(
    private readonly host: SessionHost,
    readonly line: string,
    readonly sendId: number,
    readonly batchId: string,
    readonly text: string,
    tels: Tel[],
    /** Resumed sessions were authorized before the restart; a fresh one opens first. */
    private readonly resumed: boolean,
  ) {
    this.currentTel = tels[0] ?? null;
    this.queue = tels.slice(1);
    const highest = tels.reduce((max, tel) => Math.max(max, tel.telId), 0);
    this.nextTelId = highest + 1;
    this.numbers = highest;
  }

  /** A new session whose first number was just claimed with telid 1. */
  static fresh(host: SessionHost, line: string, sendId: number, first: Recipient): BulkSession {
    const tel = newTel(first, first.telId ?? 1, false, null);
    return new BulkSession(host, line, sendId, first.batchId, first.text, [tel], false);
  }

  /** Numbers claimed in one session before a restart (same line and sendid), re-asked by their telids. */
  static resume(host: SessionHost, line: string, sendId: number, claimed: readonly Recipient[]): BulkSession {
    const now = host.now();
    const tels = [...claimed]
      .sort((a, b) => (a.telId ?? 0) - (b.telId ?? 0))
      .map((recipient) => newTel(recipient, recipient.telId ?? 0, true, now));
    return new BulkSession(host, line, sendId, claimed[0].batchId, claimed[0].text, tels, true);
  }

  get phase(): SessionPhase {
    return this.phaseNow;
  }

  get current(): Tel | null {
    return this.currentTel;
  }

  /** Numbers of this session not final yet. */
  get inFlight(): number {
    return (this.currentTel === null ? 0 : 1) + this.queue.length;
  }

  /** A SEND of the current number is out and its result is awaited. */
  private get awaitingNumber(): boolean {
    return this.phaseNow === 'sending' || this.phaseNow === 'unanswered' || this.phaseNow === 'accepted';
  }

  /** MSG or PASSWORD is out and unanswered. */
  get handshaking(): boolean {
    return this.phaseNow === 'opening' || this.phaseNow === 'authenticating';
  }

  /** The session holds one of the line's device sessions (or is about to). */
  get holdsDeviceSession(): boolean {
    return this.phaseNow !== 'backoff' && this.phaseNow !== 'ended';
  }

  start(): void {
    if (!this.resumed) return this.open();
    // Resumed: re-ask the same sendid/telid (SEND only): the line answers from its memory.
    if (this.host.lineOnline(this.line)) return this.proceed();
    this.backoff('proceed');
  }

  /** Forgets its timer; claimed numbers stay claimed (they resume after a restart). */
  stop(): void {
    this.host.cancel(this.timer);
    this.timer = null;
    this.phaseNow = 'ended';
  }

  /** A backing-off session tries again at once (its line came online). */
  poke(): void {
    if (this.phaseNow === 'backoff') this.retryAfterBackoff();
  }

  onReply(reply: BulkReply): void {
    if (this.phaseNow === 'ended') return;
    switch (reply.kind) {
      case 'passwordRequest':
        if (this.phaseNow === 'opening') {
          this.answered();
          this.phaseNow = 'authenticating';
          this.step(formatBulkPassword(this.sendId, this.host.password(this.line)));
        }
        return;
      case 'ready':
        if (this.phaseNow === 'opening' || this.phaseNow === 'authenticating') {
          this.answered();
          this.proceed();
          this.host.handshakeDone(this);
        }
        return;
      case 'wait':
        if (this.currentTel?.telId === reply.telId && this.awaitingNumber) {
          if (this.phaseNow === 'sending') this.answered();
          this.accepted(this.currentTel);
        }
        return;
      case 'sent': {
        const tel = this.settle(reply.telId);
        if (tel !== null) this.host.sent(this, tel, reply.smsNo);
        this.afterRadio(tel);
        this.continueAfterResult(tel);
        return;
      }
      case 'sendFailed': {
        const tel = this.settle(reply.telId);
        if (tel !== null) this.host.giveUp(this, tel, `${FAILURE.radioFailed} (${reply.status})`);
        this.afterRadio(tel);
        this.continueAfterResult(tel);
        return;
      }
      case 'sessionError':
        this.onSessionError(reply.error, reply.text);
        return;
      case 'done':
        if (this.phaseNow === 'closing') {
          this.answered();
          this.end();
        }
        return;
    }
  }

  /**
   * A number accepted on the line before `askedAfterSeq` was counted is off the radio (one radio,
   * first come first sent): if it is this session's current number and still has no result, its
   * pushed result was lost. Re-ask it now (the line answers from its telid memory, it does not
   * send again), and again while nothing answers (reaskAgain).
   */
  radioPassed(askedAfterSeq: number): void {
    const tel = this.currentTel;
    if (this.phaseNow !== 'accepted' || tel === null || tel.acceptSeq === null || tel.acceptSeq > askedAfterSeq) return;
    if (this.reasking === tel) return;
    this.reaskNow(tel);
  }

  /** Another number of the line got its result: the current one may be next on the radio now. */
  paceChanged(): void {
    const tel = this.currentTel;
    if (this.phaseNow === 'accepted' && tel !== null && this.reasking !== tel) this.armNextCheck(tel);
  }

  /**
   * The first round trip to any line was measured: a first transmission still waiting on the
   * unmeasured initialRetransmitMs is resent at the measured timeout instead (start-up).
   */
  roundTripMeasured(): void {
    const stepping = this.phaseNow === 'opening' || this.phaseNow === 'authenticating' || this.phaseNow === 'sending' || this.phaseNow === 'closing';
    if (!stepping || this.retries !== 0 || this.timer === null) return;
    this.armResend(this.stepStartedAt);
  }

  /**
   * Re-asks a number whose pushed result was lost (the radio is past it, or it is overdue), and
   * again while nothing answers, the gap doubling from the round-trip timeout up to
   * waitRecheckMs. A WAIT answer (still sending) ends this: armRecheck's long wait follows.
   */
  private reaskNow(tel: Tel): void {
    this.reasking = tel;
    this.reasks = 0;
    this.reaskAgain(tel);
  }

  private reaskAgain(tel: Tel): void {
    const now = this.host.now();
    const failAt = (tel.acceptedAt ?? now) + this.host.options.acceptedTimeoutMs;
    if (now >= failAt) return this.recheck(tel);
    this.reask(tel);
    const gap = this.host.retransmitDelay(this.line, this.reasks++, this.host.options.waitRecheckMs);
    this.arm(Math.min(gap, failAt - now), () => this.reaskAgain(tel));
  }

  /** The same SEND again: the line answers from its memory of recent telids. */
  private reask(tel: Tel): void {
    tel.reasked = true;
    this.host.send(this.line, formatBulkSend(this.sendId, tel.telId, tel.recipient.number));
  }

  /** A number of this session got its radio result: the numbers queued before it are done too. */
  private afterRadio(tel: Tel | null): void {
    if (tel !== null) this.host.radioDone(this.line, tel);
  }

  // ---- steps ----

  private open(): void {
    this.openRounds++;
    this.phaseNow = 'opening';
    this.step(formatBulkMessage(this.sendId, this.text));
  }

  /** Authorized: ask the current number, or take the next one. */
  private proceed(): void {
    const tel = this.currentTel;
    if (tel === null) return this.next();
    if (tel.firstAskedAt === null && !tel.resumed) {
      const delay = this.host.sendDelay(this.line);
      if (delay > 0) return this.pace(delay, () => this.proceed());
      this.host.noteNewNumber(this.line);
    }
    this.ask(tel);
  }

  private next(): void {
    const queued = this.queue.shift();
    if (queued !== undefined) {
      this.currentTel = queued;
      return this.ask(queued);
    }
    if (this.numbers >= this.host.options.numbersPerSession) return this.close();
    const delay = this.host.sendDelay(this.line);
    if (delay > 0) return this.pace(delay, () => this.next());
    const recipient = this.host.claimNext(this, this.nextTelId);
    if (recipient === null) return this.close();
    const tel = newTel(recipient, this.nextTelId++, false, null);
    this.numbers++;
    this.currentTel = tel;
    this.host.noteNewNumber(this.line);
    this.ask(tel);
  }

  private ask(tel: Tel): void {
    this.phaseNow = 'sending';
    tel.firstAskedAt ??= this.host.now();
    // A resumed number may have been queued on the radio long before: its result orders nothing.
    if (!tel.resumed) tel.askedAfterSeq ??= this.host.acceptances(this.line);
    this.step(formatBulkSend(this.sendId, tel.telId, tel.recipient.number));
  }

  private close(): void {
    if (this.phaseNow === 'closing' || this.phaseNow === 'ended') return;
    this.phaseNow = 'closing';
    this.step(formatBulkDone(this.sendId));
  }

  private end(): void {
    this.host.cancel(this.timer);
    this.timer = null;
    this.phaseNow = 'ended';
    this.host.ended(this);
  }

  private pace(delayMs: number, then: () => void): void {
    this.phaseNow = 'pacing';
    this.arm(delayMs, then);
  }

  private backoff(then: 'open' | 'proceed'): void {
    this.phaseNow = 'backoff';
    this.afterBackoff = then;
    this.arm(this.host.options.busyRetryMs, () => this.retryAfterBackoff());
  }

  /** Sends a step's datagram; resent at the round-trip timeout until stepDeadline(). */
  private step(datagram: string): void {
    this.retries = 0;
    this.stepStartedAt = this.host.now();
    this.stepDatagram = datagram;
    this.transmit();
  }

  private transmit(): void {
    this.host.send(this.line, this.stepDatagram);
    this.armResend(this.host.now());
  }

  /** The step's next resend, one resend delay after `sentAt`, or its give-up at stepDeadline(). */
  private armResend(sentAt: number): void {
    const due = Math.min(sentAt + this.host.retransmitDelay(this.line, this.retries, this.host.options.stepTimeoutMs), this.stepDeadline());
    this.arm(Math.max(0, due - this.host.now()), () => this.onStepTimeout());
  }

  /** A step unanswered this long counts as unanswered. */
  private stepDeadline(): number {
    const { stepTimeoutMs, stepRetries } = this.host.options;
    return this.stepStartedAt + stepTimeoutMs * (stepRetries + 1);
  }

  /** The current step was answered: its first transmission's answer is a round-trip sample. */
  private answered(): void {
    if (this.retries === 0) this.host.noteRoundTrip(this.line, this.host.now() - this.stepStartedAt);
  }

  private arm(ms: number, run: () => void): void {
    this.host.cancel(this.timer);
    this.timer = this.host.after(ms, () => {
      this.timer = null;
      run();
    });
  }

  // ---- outcomes ----

  private onStepTimeout(): void {
    if (this.host.now() < this.stepDeadline()) {
      this.retries++;
      this.transmit();
      return;
    }
    switch (this.phaseNow) {
      case 'opening':
      case 'authenticating':
        return this.openUnanswered();
      case 'sending':
        return this.sendUnanswered(this.currentTel as Tel);
      case 'closing':
        return this.end();
      default:
        return;
    }
  }

  /** MSG or PASSWORD never answered. Nothing was sent: a live line is asked again later. */
  private openUnanswered(): void {
    const since = this.evidenceSince(this.stepStartedAt);
    const heard = this.host.heardSince(this.line, since);
    if (heard && this.openRounds < MAX_OPEN_ROUNDS) return this.backoff('open');
    if (!heard) this.host.lineSilent(this.line, since);
    this.abandon(FAILURE.noLineAccepted);
  }

  /**
   * SEND never answered. A line heard meanwhile is alive and may have queued the number (its
   * answers lost): it counts as accepted. A silent line gets one recheck period more for a late
   * answer or any sign of life (a SEND held up in the network can still reach it and go out);
   * only then does the number move to another line.
   */
  private sendUnanswered(tel: Tel): void {
    const askedAt = tel.firstAskedAt ?? this.stepStartedAt;
    if (mayBeOnRadio(tel) || this.host.heardSince(this.line, this.evidenceSince(askedAt))) {
      this.treatAsAccepted(tel, askedAt);
      return this.armRecheck(tel);
    }
    this.phaseNow = 'unanswered';
    this.arm(this.host.options.waitRecheckMs, () => this.unansweredAfterGrace(tel, askedAt));
  }

  private unansweredAfterGrace(tel: Tel, askedAt: number): void {
    const since = this.evidenceSince(askedAt);
    if (this.host.heardSince(this.line, since)) {
      this.treatAsAccepted(tel, askedAt);
      return this.recheck(tel);
    }
    this.host.lineSilent(this.line, since);
    this.abandon(FAILURE.noLineAccepted);
  }

  private treatAsAccepted(tel: Tel, askedAt: number): void {
    tel.accepted = true;
    tel.acceptedAt ??= askedAt;
    this.phaseNow = 'accepted';
  }

  /**
   * Whether the line is alive is judged by what came from it after the first step timeout: by
   * then anything it sent before our first try has arrived, so it cannot pass for a sign of life.
   */
  private evidenceSince(firstTryAt: number): number {
    return firstTryAt + this.host.options.stepTimeoutMs;
  }

  private accepted(tel: Tel): void {
    const firstWait = tel.acceptSeq === null;
    if (firstWait) tel.takenAt = this.phaseNow === 'sending' && this.retries === 0 ? this.host.now() : tel.firstAskedAt;
    tel.accepted = true;
    tel.acceptSeq ??= this.host.noteAccepted(this.line);
    tel.acceptedAt ??= this.host.now();
    this.retries = 0;
    this.phaseNow = 'accepted';
    this.armRecheck(tel);
    // Its place on the radio is known now: the line's other numbers may know theirs too.
    if (firstWait) this.host.radioQueueChanged(this.line);
  }

  /**
   * After WAIT: wait for the pushed result. Its re-ask of the same SEND comes when the result is
   * overdue by the line's own radio pace (its push was lost), else after waitRecheckMs of silence.
   */
  private armRecheck(tel: Tel): void {
    tel.recheckAt = this.host.now() + this.host.options.waitRecheckMs;
    this.armNextCheck(tel);
  }

  private armNextCheck(tel: Tel): void {
    const now = this.host.now();
    const recheckAt = Math.min(tel.recheckAt, (tel.acceptedAt ?? now) + this.host.options.acceptedTimeoutMs);
    // Once the line answered a re-ask with WAIT (still sending) its pace says nothing more here.
    const overdueAt = this.reasking === tel ? null : this.host.overdueAt(this.line, tel);
    if (overdueAt !== null && overdueAt < recheckAt) return this.arm(overdueAt - now, () => this.reaskNow(tel));
    this.arm(recheckAt - now, () => this.recheck(tel));
  }

  private recheck(tel: Tel): void {
    const { acceptedTimeoutMs } = this.host.options;
    if (this.host.now() - (tel.acceptedAt ?? 0) >= acceptedTimeoutMs) {
      this.currentTel = null;
      this.host.fail(this, tel, FAILURE.silentAfterAccepting);
      // The line is silent: hand it nothing more in this session.
      this.releaseQueue(FAILURE.silentAfterAccepting);
      return this.close();
    }
    this.reaskNow(tel);
  }

  /** The number `telId` got its result: take it out of the session (null when unknown or stale). */
  private settle(telId: number): Tel | null {
    if (this.currentTel?.telId === telId) {
      const tel = this.currentTel;
      this.currentTel = null;
      this.openRounds = 0;
      return tel;
    }
    const index = this.queue.findIndex((tel) => tel.telId === telId);
    if (index === -1) return null;
    return this.queue.splice(index, 1)[0];
  }

  private continueAfterResult(settled: Tel | null): void {
    if (settled === null || this.currentTel !== null) return;
    // Mid-open (a re-open or a backoff) the open completes first and then takes the next number.
    if (this.awaitingNumber) this.next();
  }

  private onSessionError(error: string, text: string): void {
    const phase = this.phaseNow;
    switch (error) {
      case 'tooMany':
        if (phase !== 'opening') return;
        this.host.lineBusy(this);
        this.openRounds = 0; // a busy line answers: that is no reason to give up on it
        return this.backoff('open');
      case 'password':
        if (phase === 'authenticating') {
          this.host.park(this.line, 'password');
          return this.abandon(FAILURE.passwordRefused);
        }
        // A SEND to a session that never got the password (a resumed one): open it again.
        if (this.awaitingNumber) return this.reopen();
        return;
      case 'unknownSession':
        // The line forgot the session (expired, restarted): open it again under the same sendid.
        if (phase === 'authenticating' || this.awaitingNumber) return this.reopen();
        if (phase === 'closing') return this.end();
        return;
      case 'loggedOut':
        if (phase === 'closing') return this.end();
        this.host.park(this.line, 'gsmLogout');
        return this.abandon(FAILURE.gsmLogout);
      default:
        // An error no bulk step expects: the line refused the MSG itself (e.g. its length).
        if (phase !== 'opening') return;
        for (const tel of this.takeAll()) this.host.fail(this, tel, `line refused the message: ${text}`);
        return this.end();
    }
  }

  /**
   * Opens the session again under the same sendid, so the outbox's (line, sendid, telid) stay
   * true. An accepted number cannot be re-asked in it (the line would queue it again), and the
   * line that forgot the session will push no result for it: it fails at once, its result
   * unknown (it may have gone out). A number never accepted is asked again with its own telid
   * (after a restart this is the documented at-least-once case).
   */
  private reopen(): void {
    const tel = this.currentTel;
    if (tel !== null && tel.accepted) {
      this.currentTel = null;
      this.host.fail(this, tel, FAILURE.forgotAfterAccepting);
    }
    if (this.openRounds >= MAX_OPEN_ROUNDS) return this.abandon(FAILURE.noLineAccepted);
    this.open();
  }

  private retryAfterBackoff(): void {
    const tel = this.currentTel;
    if (tel !== null && mayBeOnRadio(tel) && this.host.now() - (tel.acceptedAt ?? 0) >= this.host.options.acceptedTimeoutMs) {
      this.currentTel = null;
      this.host.fail(this, tel, FAILURE.silentAfterAccepting);
    }
    if (this.host.mayReopen(this)) {
      if (this.afterBackoff === 'open') return this.open();
      return this.proceed();
    }
    const offline = !this.host.lineOnline(this.line);
    if (offline && tel !== null && this.currentTel === tel && !mayBeOnRadio(tel) && tel.recipient.pinnedLine === null) {
      // It never left: another line takes it while this one is away.
      return this.abandon(FAILURE.lineOffline);
    }
    this.backoff(this.afterBackoff);
  }

  /** The session ends on its line: numbers that may be on the radio are watched, the rest leave. */
  private abandon(reason: string): void {
    for (const tel of this.takeAll()) {
      if (mayBeOnRadio(tel)) this.host.watchAccepted(this, tel);
      else this.host.giveUp(this, tel, reason);
    }
    this.end();
  }

  private releaseQueue(reason: string): void {
    for (const tel of this.queue.splice(0)) {
      if (mayBeOnRadio(tel)) this.host.watchAccepted(this, tel);
      else this.host.giveUp(this, tel, reason);
    }
  }

  private takeAll(): Tel[] {
    const tels = this.currentTel === null ? [] : [this.currentTel];
    tels.push(...this.queue.splice(0));
    this.currentTel = null;
    return tels;
  }
}
