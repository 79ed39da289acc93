/**
 * What a bulk session sends and when: its steps (MSG, PASSWORD, SEND per number, DONE), each
 * resent by the StepRetransmitter until answered or unanswered for good; pacing and backoff; and
 * what silence means at each step (ON_NO_ANSWER). BulkSession adds the replies (ON_REPLY).
 */
import { formatBulkDone, formatBulkMessage, formatBulkSend } from '../../protocol';
import { FAILURE } from '../lines/policy';
import { ResultWait } from '../lines/result-wait';
import { ON_NO_ANSWER, type SessionPhase } from './table';
import { SessionNumbers } from './numbers';
import type { LineSession, SessionPorts } from './ports';
import { type RetransmitPolicy, type StepProgress, StepRetransmitter, TimerSlot } from '../../link/step-retransmitter';
import { mayBeOnRadio, type Tel } from './numbers';
import type { TimerHandle } from '../lines/timers';

/** Consecutive session opens without progress before the session gives up on its line. */
export const MAX_OPEN_ROUNDS = 3;

/**
 * A step is resent after the line's round-trip timeout (doubled per resend, at most
 * stepTimeoutMs) and counts as unanswered stepTimeoutMs x (stepRetries + 1) after its start.
 */
function stepPolicy({ options, roundTrips }: SessionPorts, line: string): RetransmitPolicy {
  const deadline = (step: StepProgress): number => step.startedAt + options.stepTimeoutMs * (options.stepRetries + 1);
  return {
    dueAt: (sentAt, step) => Math.min(sentAt + roundTrips.retransmitDelay(line, step.resends, options.stepTimeoutMs), deadline(step)),
    exhausted: (now, step) => now >= deadline(step),
  };
}

export abstract class SessionSteps implements LineSession {
  protected phaseNow: SessionPhase = 'opening';
  protected readonly numbers: SessionNumbers;
  /** The session's one timer: a step's resend, pacing, backoff or the wait for a result. */
  protected readonly timer: TimerSlot<TimerHandle>;
  protected readonly step: StepRetransmitter;
  protected readonly wait: ResultWait;
  protected openRounds = 0;
  private afterBackoff: 'open' | 'proceed' = 'open';

  protected constructor(
    protected readonly ports: SessionPorts,
    readonly line: string,
    readonly sendId: number,
    readonly batchId: string,
    readonly text: string,
    tels: Tel[],
  ) {
    this.numbers = new SessionNumbers(tels);
    this.timer = new TimerSlot<TimerHandle>((ms, run) => ports.clock.after(ms, run), (handle) => ports.clock.cancel(handle));
    const io = { now: () => ports.clock.now(), send: (datagram: string) => this.transmit(datagram), unanswered: () => this.noAnswer() };
    this.step = new StepRetransmitter(this.timer, stepPolicy(ports, line), io);
    this.wait = new ResultWait(ports, line, sendId, this.timer, (tel) => this.silentAfterAccepting(tel));
  }

  get current(): Tel | null {
    return this.numbers.current;
  }

  get inFlight(): number {
    return this.numbers.inFlight;
  }

  get handshaking(): boolean {
    return this.phaseNow === 'opening' || this.phaseNow === 'authenticating';
  }

  /** In its handshake with no number yet, for less than `ms`: it may take one of the queued numbers soon. */
  reservesNumber(now: number, ms: number): boolean {
    return this.handshaking && this.numbers.inFlight === 0 && this.numbers.taken === 0 && now - this.step.startedAt < ms;
  }

  get holdsDeviceSession(): boolean {
    return this.phaseNow !== 'backoff' && this.phaseNow !== 'ended';
  }

  abstract radioPassed(askedAfterSeq: number): void;
  abstract paceChanged(): void;
  abstract roundTripMeasured(): void;

  // ---- steps ----

  protected open(): void {
    this.openRounds++;
    this.phaseNow = 'opening';
    this.step.start(formatBulkMessage(this.sendId, this.text));
  }

  /** Authorized: ask the current number, or take the next one. */
  protected proceed(): void {
    const tel = this.numbers.current;
    if (tel === null) return this.next();
    if (tel.firstAskedAt === null && !tel.resumed) {
      const delay = this.ports.gate.sendDelay(this.line);
      if (delay > 0) return this.pace(delay, () => this.proceed());
      this.ports.gate.noteNewNumber(this.line);
    }
    this.ask(tel);
  }

  protected next(): void {
    const queued = this.numbers.advance();
    if (queued !== null) return this.ask(queued);
    if (this.numbers.taken >= this.ports.options.numbersPerSession) return this.close();
    const delay = this.ports.gate.sendDelay(this.line);
    if (delay > 0) return this.pace(delay, () => this.next());
    const recipient = this.ports.outcomes.claimNext(this, this.numbers.nextId);
    if (recipient === null) return this.close();
    const tel = this.numbers.adopt(recipient);
    this.ports.gate.noteNewNumber(this.line);
    this.ask(tel);
  }

  protected ask(tel: Tel): void {
    this.phaseNow = 'sending';
    tel.firstAskedAt ??= this.ports.clock.now();
    // A resumed number may have been queued on the radio long before: its result orders nothing.
    if (!tel.resumed) tel.askedAfterSeq ??= this.ports.radio.acceptances(this.line);
    this.step.start(formatBulkSend(this.sendId, tel.telId, tel.recipient.number));
  }

  protected close(): void {
    if (this.phaseNow === 'closing' || this.phaseNow === 'ended') return;
    this.phaseNow = 'closing';
    this.step.start(formatBulkDone(this.sendId));
  }

  protected end(): void {
    this.timer.disarm();
    this.phaseNow = 'ended';
    this.ports.outcomes.ended(this);
  }

  protected pace(delayMs: number, then: () => void): void {
    this.phaseNow = 'pacing';
    this.timer.arm(delayMs, then);
  }

  protected backoff(then: 'open' | 'proceed'): void {
    this.phaseNow = 'backoff';
    this.afterBackoff = then;
    this.timer.arm(this.ports.options.busyRetryMs, () => this.retryAfterBackoff());
  }

  protected transmit(datagram: string): boolean {
    this.ports.link.send(this.line, datagram);
    return true;
  }

  /** The current step was answered: its first transmission's answer is a round-trip sample. */
  protected answered(): void {
    const ms = this.step.roundTrip();
    if (ms !== null) this.ports.roundTrips.note(this.line, ms);
  }

  protected accepted(tel: Tel): void {
    const firstWait = tel.acceptSeq === null;
    if (firstWait) tel.takenAt = this.phaseNow === 'sending' && this.step.resends === 0 ? this.ports.clock.now() : tel.firstAskedAt;
    tel.accepted = true;
    tel.acceptSeq ??= this.ports.radio.accepted(this.line);
    tel.acceptedAt ??= this.ports.clock.now();
    this.phaseNow = 'accepted';
    this.wait.start(tel);
    // Its place on the radio is known now: the line's other numbers may know theirs too.
    if (firstWait) this.ports.radio.queueChanged(this.line);
  }

  // ---- silence ----

  protected noAnswer(): void {
    const action = ON_NO_ANSWER[this.phaseNow];
    if (action !== undefined) this[action]();
  }

  /** MSG or PASSWORD never answered. Nothing was sent: a live line is asked again later. */
  protected openUnanswered(): void {
    this.ports.gate.handshakeUnanswered(this.line);
    const since = this.evidenceSince(this.step.startedAt);
    const heard = this.ports.link.heardSince(this.line, since);
    if (heard && this.openRounds < MAX_OPEN_ROUNDS && this.ports.gate.mayReopen(this)) {
      // The line has to earn work again: numbers it never sent go to lines that answer.
      for (const tel of this.numbers.takeAll()) this.release(tel, FAILURE.noLineAccepted);
      return this.backoff('open');
    }
    if (!heard) this.ports.gate.silent(this.line, since);
    this.abandon(FAILURE.noLineAccepted);
  }

  /**
   * SEND never answered. A line heard meanwhile is alive and may have queued the number (its
   * answers lost): it counts as accepted. A silent line gets one recheck period more for a late
   * answer or any sign of life (a SEND held up in the network can still reach it and go out);
   * only then does the number move to another line.
   */
  protected sendUnanswered(): void {
    const tel = this.numbers.current as Tel;
    const askedAt = tel.firstAskedAt ?? this.step.startedAt;
    if (mayBeOnRadio(tel) || this.ports.link.heardSince(this.line, this.evidenceSince(askedAt))) {
      this.treatAsAccepted(tel, askedAt);
      return this.wait.start(tel);
    }
    this.phaseNow = 'unanswered';
    this.timer.arm(this.ports.options.waitRecheckMs, () => this.unansweredAfterGrace(tel, askedAt));
  }

  private unansweredAfterGrace(tel: Tel, askedAt: number): void {
    const since = this.evidenceSince(askedAt);
    if (this.ports.link.heardSince(this.line, since)) {
      this.treatAsAccepted(tel, askedAt);
      return this.wait.recheck(tel);
    }
    this.ports.gate.silent(this.line, since);
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
    return firstTryAt + this.ports.options.stepTimeoutMs;
  }

  /** No result for acceptedTimeoutMs: the line is silent, hand it nothing more in this session. */
  private silentAfterAccepting(tel: Tel): void {
    this.numbers.dropCurrent();
    this.ports.outcomes.fail(tel, FAILURE.silentAfterAccepting);
    for (const queued of this.numbers.takeQueued()) this.release(queued, FAILURE.silentAfterAccepting);
    this.close();
  }

  protected retryAfterBackoff(): void {
    const tel = this.numbers.current;
    if (tel !== null && mayBeOnRadio(tel) && this.ports.clock.now() - (tel.acceptedAt ?? 0) >= this.ports.options.acceptedTimeoutMs) {
      this.numbers.dropCurrent();
      this.ports.outcomes.fail(tel, FAILURE.silentAfterAccepting);
    }
    if (this.ports.gate.mayReopen(this)) {
      if (this.afterBackoff === 'open') return this.open();
      return this.proceed();
    }
    const offline = !this.ports.link.online(this.line);
    if (offline && tel !== null && this.numbers.current === tel && !mayBeOnRadio(tel) && tel.recipient.pinnedLine === null) {
      // It never left: another line takes it while this one is away.
      return this.abandon(FAILURE.lineOffline);
    }
    this.backoff(this.afterBackoff);
  }

  /** The session ends on its line: numbers that may be on the radio are watched, the rest leave. */
  protected abandon(reason: string): void {
    for (const tel of this.numbers.takeAll()) this.release(tel, reason);
    this.end();
  }

  private release(tel: Tel, reason: string): void {
    if (mayBeOnRadio(tel)) this.ports.outcomes.watch(this.line, this.sendId, tel);
    else this.ports.outcomes.giveUp(tel, reason);
  }
}
