/**
 * One bulk send session with one line (docs/protocol.md#bulk-sms-session): the actions of
 * ./table's SESSION_TABLE on the line's replies and on its own events, over the steps of ./steps.
 * Numbers go one at a time (docs/protocol.md#session-steps: the next SEND after OK/ERROR); the
 * engine runs several sessions per line so the single radio always has a next number. Every
 * outcome (sent, failover, failure, parking a line) is decided or stored by the engine; a session
 * only speaks the protocol and keeps its timer.
 */
import type { Recipient } from '../../outbox/types';
import type { BulkReply } from '../../protocol';
import { FAILURE } from '../lines/policy';
import { ResultWait } from '../lines/result-wait';
import { mayBeOnRadio, newTel, SessionNumbers, type Tel } from './numbers';
import type { LineSession, SessionPorts } from './ports';
import { isSetback, SETBACKS, type SessionInside, type SetbackAction } from './setbacks';
import { SessionSteps } from './steps';
import { SESSION_TABLE, type SessionEvent, type SessionPhase, sessionEvent, type Transition } from './table';

export class BulkSession implements LineSession {
  private phaseNow: SessionPhase = 'opening';
  /** The event being acted on and its row (the phases its action may enter); null between events. */
  private actingEvent: SessionEvent | null = null;
  private actingRow: Transition | null = null;
  private readonly numbers: SessionNumbers;
  private readonly steps: SessionSteps;
  private readonly wait: ResultWait;
  private openRounds = 0;
  private afterBackoff: 'open' | 'proceed' = 'open';
  private afterPace: 'proceed' | 'next' = 'next';
  /** What the session does once its claim is answered, and the answer while it is acted on. */
  private afterClaim: 'ask' | 'password' = 'ask';
  private claimAnswer: Recipient | null = null;
  /** What the table's setback actions (./setbacks) see of the session. */
  private readonly inside: SessionInside;

  private constructor(
    private readonly ports: SessionPorts,
    readonly line: string,
    readonly sendId: number,
    readonly batchId: string,
    readonly text: string,
    tels: Tel[],
    /** Resumed sessions were authorized before the restart; a fresh one opens first. */
    private readonly resumed: boolean,
  ) {
    this.numbers = new SessionNumbers(tels);
    this.steps = new SessionSteps(ports, line, sendId, text, () => this.on('no answer'));
    this.wait = new ResultWait(ports, line, sendId, this.steps.timer, () => this.on('result overdue'));
    this.inside = this.insideView();
  }

  /** A new session whose first number was just claimed with telid 1 (a line in good standing). */
  static fresh(ports: SessionPorts, line: string, sendId: number, first: Recipient): BulkSession {
    const tel = newTel(first, first.telId ?? 1, false, null);
    return new BulkSession(ports, line, sendId, first.batchId, first.text, [tel], false);
  }

  /**
   * A new session for a batch with no number yet, on a line that left a handshake unanswered: it
   * earns its first number by answering the MSG (a mute line holds none). A probe is a session of
   * no batch: it claims nothing.
   */
  static claimless(ports: SessionPorts, line: string, sendId: number, batch: { batchId: string; text: string }): BulkSession {
    return new BulkSession(ports, line, sendId, batch.batchId, batch.text, [], false);
  }

  /** Numbers claimed in one session before a restart (same line and sendid), re-asked by their telids. */
  static resume(ports: SessionPorts, line: string, sendId: number, claimed: readonly Recipient[]): BulkSession {
    const now = ports.clock.now();
    const tels = [...claimed]
      .sort((a, b) => (a.telId ?? 0) - (b.telId ?? 0))
      .map((recipient) => newTel(recipient, recipient.telId ?? 0, true, now));
    return new BulkSession(ports, line, sendId, claimed[0].batchId, claimed[0].text, tels, true);
  }

  get phase(): SessionPhase {
    return this.phaseNow;
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
    return this.handshaking && this.numbers.inFlight === 0 && this.numbers.taken === 0 && now - this.steps.startedAt < ms;
  }

  get holdsDeviceSession(): boolean {
    return this.phaseNow !== 'backoff' && this.phaseNow !== 'ended';
  }

  start(): void {
    this.on('start');
  }

  /** Forgets its timer; claimed numbers stay claimed (they resume after a restart). */
  stop(): void {
    this.on('stop');
  }

  /** A backing-off session tries again at once (its line came online). */
  poke(): void {
    this.on('backoff over');
  }

  onReply(reply: BulkReply): void {
    this.on(sessionEvent(reply), reply);
  }

  radioPassed(askedAfterSeq: number): void {
    const tel = this.numbers.current;
    if (this.phaseNow === 'accepted' && tel !== null) this.wait.radioPassed(tel, askedAfterSeq);
  }

  paceChanged(): void {
    const tel = this.numbers.current;
    if (this.phaseNow === 'accepted' && tel !== null) this.wait.paceChanged(tel);
  }

  /** A first transmission still waiting on the unmeasured initialRetransmitMs is resent at the measured timeout instead (start-up). */
  roundTripMeasured(): void {
    if (SESSION_TABLE[this.phaseNow]['no answer'] !== undefined) this.steps.retime();
  }

  // ---- the table ----

  /** The row of the current phase for `event`, if any, acted on; the rest is stale. */
  private on(event: SessionEvent, reply?: BulkReply): void {
    const row = SESSION_TABLE[this.phaseNow][event];
    if (row === undefined) return;
    // An action may set off another event of this session (a re-ask finding the result overdue).
    const outerEvent = this.actingEvent;
    const outerRow = this.actingRow;
    this.actingEvent = event;
    this.actingRow = row;
    try {
      const action = row.action;
      if (isSetback(action)) SETBACKS[action](this.inside, reply as BulkReply);
      else this[action as Exclude<typeof action, SetbackAction>](reply as BulkReply);
    } finally {
      this.actingEvent = outerEvent;
      this.actingRow = outerRow;
    }
  }

  /** The only place a phase changes: to one the row being acted on names. */
  private enter(phase: SessionPhase): void {
    if (this.actingRow !== null && !this.actingRow.next.includes(phase)) {
      this.ports.warn(new Error(`bulk session ${this.line}/${this.sendId}: ${this.actingEvent} in ${this.phaseNow} led to ${phase}, which the session table does not list`));
    }
    this.phaseNow = phase;
  }

  private insideView(): SessionInside {
    const session = this;
    return {
      session,
      ports: this.ports,
      line: this.line,
      numbers: this.numbers,
      steps: this.steps,
      wait: this.wait,
      get openRounds() {
        return session.openRounds;
      },
      set openRounds(rounds: number) {
        session.openRounds = rounds;
      },
      get afterBackoff() {
        return session.afterBackoff;
      },
      enter: (phase) => this.enter(phase),
      on: (event) => this.on(event),
      open: () => this.open(),
      proceed: () => this.proceed(),
      close: () => this.close(),
      end: () => this.end(),
      backoff: (then) => this.backoff(then),
      abandon: (reason) => this.abandon(reason),
      release: (tel, reason) => this.release(tel, reason),
    };
  }

  // ---- steps ----

  private open(): void {
    this.openRounds++;
    this.enter('opening');
    this.steps.message();
  }

  /** Authorized: ask the current number, or take the next one. */
  private proceed(): void {
    const tel = this.numbers.current;
    if (tel === null) return this.next();
    if (tel.firstAskedAt === null && !tel.resumed) {
      const delay = this.ports.gate.sendDelay(this.line);
      if (delay > 0) return this.pace(delay, 'proceed');
      this.ports.gate.noteNewNumber(this.line);
    }
    this.ask(tel);
  }

  private next(): void {
    const queued = this.numbers.advance();
    if (queued !== null) return this.ask(queued);
    // A resumed session takes no new number: before the restart it may have used telids beyond its
    // claimed ones, and the line would answer a reused telid from its memory instead of sending.
    if (this.resumed || this.numbers.taken >= this.ports.options.numbersPerSession) return this.close();
    const delay = this.ports.gate.sendDelay(this.line);
    if (delay > 0) return this.pace(delay, 'next');
    this.claim('ask');
  }

  /** Asks the store for the next number; the session waits in claiming until it answers. */
  private claim(then: 'ask' | 'password'): void {
    this.enter('claiming');
    this.afterClaim = then;
    this.ports.outcomes.claimNext(this, this.numbers.nextId, (recipient) => {
      this.claimAnswer = recipient;
      try {
        this.on('claimed');
      } finally {
        this.claimAnswer = null;
      }
    });
  }

  private ask(tel: Tel): void {
    this.enter('sending');
    tel.firstAskedAt ??= this.ports.clock.now();
    // A resumed number may have been queued on the radio long before: its result orders nothing.
    if (!tel.resumed) tel.askedAfterSeq ??= this.ports.radio.acceptances(this.line);
    this.steps.send(tel);
  }

  private close(): void {
    if (this.phaseNow === 'closing' || this.phaseNow === 'ended') return;
    this.enter('closing');
    this.steps.done();
  }

  private end(): void {
    this.steps.timer.disarm();
    this.enter('ended');
    this.ports.outcomes.ended(this);
  }

  private pace(delayMs: number, then: 'proceed' | 'next'): void {
    this.enter('pacing');
    this.afterPace = then;
    this.steps.timer.arm(delayMs, () => this.on('paced'));
  }

  private backoff(then: 'open' | 'proceed'): void {
    this.enter('backoff');
    this.afterBackoff = then;
    this.steps.timer.arm(this.ports.options.busyRetryMs, () => this.on('backoff over'));
  }

  private accepted(tel: Tel): void {
    const firstWait = tel.acceptSeq === null;
    if (firstWait) tel.takenAt = this.phaseNow === 'sending' && this.steps.resends === 0 ? this.ports.clock.now() : tel.firstAskedAt;
    tel.accepted = true;
    tel.acceptSeq ??= this.ports.radio.accepted(this.line);
    tel.acceptedAt ??= this.ports.clock.now();
    this.enter('accepted');
    this.wait.start(tel);
    // Its place on the radio is known now: the line's other numbers may know theirs too.
    if (firstWait) this.ports.radio.queueChanged(this.line);
  }

  /** The session ends on its line: numbers that may be on the radio are watched, the rest leave. */
  private abandon(reason: string): void {
    for (const tel of this.numbers.takeAll()) this.release(tel, reason);
    this.end();
  }

  private release(tel: Tel, reason: string): void {
    if (mayBeOnRadio(tel)) this.ports.outcomes.watch(this.line, this.sendId, tel);
    else this.ports.outcomes.giveUp(tel, reason);
  }

  // ---- the actions of SESSION_TABLE (those for a line that refuses or stays silent: ./setbacks) ----

  private begin(): void {
    if (!this.resumed) return this.open();
    // Resumed: re-ask the same sendid/telid (SEND only): the line answers from its memory.
    if (this.ports.link.online(this.line)) return this.proceed();
    this.backoff('proceed');
  }

  private halt(): void {
    this.steps.timer.disarm();
    this.enter('ended');
  }

  private sendPassword(): void {
    this.steps.answered();
    // The line answers: a session opened without a number claims its first one now.
    if (this.numbers.taken === 0 && this.numbers.current === null) return this.claim('password');
    this.authenticate();
  }

  private authenticate(): void {
    this.enter('authenticating');
    this.steps.password();
  }

  private tookClaim(): void {
    const recipient = this.claimAnswer;
    if (this.afterClaim === 'password') {
      if (recipient !== null) this.numbers.adopt(recipient);
      return this.authenticate();
    }
    if (recipient === null) return this.close();
    const tel = this.numbers.adopt(recipient);
    this.ports.gate.noteNewNumber(this.line);
    this.ask(tel);
  }

  private authorized(): void {
    this.steps.answered();
    this.ports.gate.handshakeAnswered(this.line);
    this.proceed();
    this.ports.outcomes.handshakeDone();
  }

  private acceptStep(reply: BulkReply): void {
    if (!this.isCurrent(reply)) return;
    this.steps.answered();
    this.accepted(this.numbers.current as Tel);
  }

  private accept(reply: BulkReply): void {
    if (this.isCurrent(reply)) this.accepted(this.numbers.current as Tel);
  }

  private result(reply: BulkReply): Tel | null {
    if (reply.kind !== 'sent' && reply.kind !== 'sendFailed') return null;
    if (this.numbers.current?.telId === reply.telId) this.openRounds = 0;
    const tel = this.numbers.take(reply.telId);
    if (tel === null) return null;
    this.ports.gate.radioResult(this.line, reply.kind === 'sent');
    if (reply.kind === 'sent') this.ports.outcomes.sent(tel, reply.smsNo);
    else this.ports.outcomes.giveUp(tel, `${FAILURE.radioFailed} (${reply.status})`);
    // The numbers queued on the radio before it are done there too.
    this.ports.radio.resultCame(this.line, tel);
    return tel;
  }

  private resultThenNext(reply: BulkReply): void {
    if (this.result(reply) !== null && this.numbers.current === null) this.next();
  }

  private closed(): void {
    this.steps.answered();
    this.end();
  }

  private afterPacing(): void {
    if (this.afterPace === 'proceed') this.proceed();
    else this.next();
  }

  private isCurrent(reply: BulkReply): boolean {
    return reply.kind === 'wait' && this.numbers.current?.telId === reply.telId;
  }
}
