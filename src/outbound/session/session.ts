/**
 * One bulk send session with one line (docs/protocol.md#bulk-sms-session): the actions of ./table's
 * ON_REPLY table on the line's replies, over the steps of ./steps. Numbers go one at a
 * time (docs/protocol.md#session-steps: the next SEND after OK/ERROR); the engine runs several sessions per line so the
 * single radio always has a next number. Every outcome (sent, failover, failure, parking a line)
 * is decided or stored by the engine; a session only speaks the protocol and keeps its timers.
 */
import type { Recipient } from '../../outbox/types';
import { type BulkReply, formatBulkPassword } from '../../protocol';
import { FAILURE } from '../lines/policy';
import { ON_NO_ANSWER, ON_REPLY, sessionEvent } from './table';
import type { SessionPorts } from './ports';
import { MAX_OPEN_ROUNDS, SessionSteps } from './steps';
import { newTel, type Tel } from './numbers';

export class BulkSession extends SessionSteps {
  private constructor(
    ports: SessionPorts,
    line: string,
    sendId: number,
    batchId: string,
    text: string,
    tels: Tel[],
    /** Resumed sessions were authorized before the restart; a fresh one opens first. */
    private readonly resumed: boolean,
  ) {
    super(ports, line, sendId, batchId, text, tels);
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

  start(): void {
    if (!this.resumed) return this.open();
    // Resumed: re-ask the same sendid/telid (SEND only): the line answers from its memory.
    if (this.ports.link.online(this.line)) return this.proceed();
    this.backoff('proceed');
  }

  /** Forgets its timer; claimed numbers stay claimed (they resume after a restart). */
  stop(): void {
    this.timer.disarm();
    this.phaseNow = 'ended';
  }

  /** A backing-off session tries again at once (its line came online). */
  poke(): void {
    if (this.phaseNow === 'backoff') this.retryAfterBackoff();
  }

  onReply(reply: BulkReply): void {
    const action = ON_REPLY[this.phaseNow][sessionEvent(reply)];
    if (action !== undefined) this[action](reply);
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
    if (ON_NO_ANSWER[this.phaseNow] !== undefined) this.step.retime();
  }

  // ---- replies (the actions of ON_REPLY) ----

  private sendPassword(): void {
    this.answered();
    // The line answers: a fresh session claims its first number now, committed before any SEND.
    if (this.numbers.taken === 0 && this.numbers.current === null) {
      const first = this.ports.outcomes.claimNext(this, this.numbers.nextId);
      if (first !== null) this.numbers.adopt(first);
    }
    this.phaseNow = 'authenticating';
    this.step.start(formatBulkPassword(this.sendId, this.ports.link.password(this.line)));
  }

  private authorized(): void {
    this.answered();
    this.ports.gate.handshakeAnswered(this.line);
    this.proceed();
    this.ports.outcomes.handshakeDone();
  }

  private acceptStep(reply: BulkReply): void {
    if (!this.isCurrent(reply)) return;
    this.answered();
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

  private backoffBusy(): void {
    this.ports.gate.busy(this);
    this.openRounds = 0; // a busy line answers: that is no reason to give up on it
    this.backoff('open');
  }

  private refusedPassword(): void {
    this.ports.gate.park(this.line, 'password');
    this.abandon(FAILURE.passwordRefused);
  }

  private loggedOut(): void {
    this.ports.gate.park(this.line, 'gsmLogout');
    this.abandon(FAILURE.gsmLogout);
  }

  private refusedMessage(reply: BulkReply): void {
    const text = reply.kind === 'sessionError' ? reply.text : '';
    for (const tel of this.numbers.takeAll()) this.ports.outcomes.fail(tel, `line refused the message: ${text}`);
    this.end();
  }

  private closed(): void {
    this.answered();
    this.end();
  }

  /**
   * Opens the session again under the same sendid, so the outbox's (line, sendid, telid) stay
   * true. An accepted number cannot be re-asked in it (the line would queue it again), and the
   * line that forgot the session will push no result for it: it fails at once, its result
   * unknown (it may have gone out). A number never accepted is asked again with its own telid
   * (after a restart this is the documented at-least-once case).
   */
  private reopen(): void {
    const tel = this.numbers.current;
    if (tel !== null && tel.accepted) {
      this.numbers.dropCurrent();
      this.ports.outcomes.fail(tel, FAILURE.forgotAfterAccepting);
    }
    if (this.openRounds >= MAX_OPEN_ROUNDS) return this.abandon(FAILURE.noLineAccepted);
    this.open();
  }

  private isCurrent(reply: BulkReply): boolean {
    return reply.kind === 'wait' && this.numbers.current?.telId === reply.telId;
  }
}
