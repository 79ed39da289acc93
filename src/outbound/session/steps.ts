/**
 * What a bulk session sends: its steps (MSG, PASSWORD, SEND per number, DONE), each resent by the
 * StepRetransmitter until answered or unanswered for good, over the session's one timer (which
 * pacing, backoff and the wait for a result share). Which step goes when is the session's table.
 */
import { formatBulkDone, formatBulkMessage, formatBulkPassword, formatBulkSend } from '../../protocol';
import { type RetransmitPolicy, type StepProgress, StepRetransmitter, TimerSlot } from '../../link/step-retransmitter';
import type { TimerHandle } from '../lines/timers';
import type { Tel } from './numbers';
import type { SessionPorts } from './ports';

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

export class SessionSteps {
  /** The session's one timer: a step's resend, pacing, backoff or the wait for a result. */
  readonly timer: TimerSlot<TimerHandle>;
  private readonly step: StepRetransmitter;

  constructor(
    private readonly ports: SessionPorts,
    private readonly line: string,
    private readonly sendId: number,
    private readonly text: string,
    /** The step went unanswered for good. */
    unanswered: () => void,
  ) {
    this.timer = new TimerSlot<TimerHandle>((ms, run) => ports.clock.after(ms, run), (handle) => ports.clock.cancel(handle));
    const io = { now: () => ports.clock.now(), send: (datagram: string) => this.transmit(datagram), unanswered };
    this.step = new StepRetransmitter(this.timer, stepPolicy(ports, line), io);
  }

  /** When the current (or last) step started. */
  get startedAt(): number {
    return this.step.startedAt;
  }

  /** Resends of the current step so far. */
  get resends(): number {
    return this.step.resends;
  }

  message(): void {
    this.step.start(formatBulkMessage(this.sendId, this.text));
  }

  password(): void {
    this.step.start(formatBulkPassword(this.sendId, this.ports.link.password(this.line)));
  }

  send(tel: Tel): void {
    this.step.start(formatBulkSend(this.sendId, tel.telId, tel.recipient.number));
  }

  done(): void {
    this.step.start(formatBulkDone(this.sendId));
  }

  /** The current step was answered: its first transmission's answer is a round-trip sample. */
  answered(): void {
    const ms = this.step.roundTrip();
    if (ms !== null) this.ports.roundTrips.note(this.line, ms);
  }

  /** A first transmission still waiting on the unmeasured initial timeout is resent at the measured one. */
  retime(): void {
    this.step.retime();
  }

  private transmit(datagram: string): boolean {
    this.ports.link.send(this.line, datagram);
    return true;
  }
}
