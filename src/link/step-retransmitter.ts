/**
 * One request datagram resent on silence until an answer or the give-up: the piece a bulk step
 * (MSG, PASSWORD, SEND, DONE) and a server command share. When to resend and when to give up is
 * the owner's policy: a command resends the same datagram every timeoutMs for a number of tries;
 * a bulk step resends after the line's measured round trip until its deadline.
 */

/** One pending timer at a time: arming it again replaces the one before. */
export interface OneTimer {
  readonly armed: boolean;
  arm(ms: number, run: () => void): void;
  disarm(): void;
}

export class TimerSlot<Handle> implements OneTimer {
  private handle: Handle | null = null;

  constructor(
    private readonly after: (ms: number, run: () => void) => Handle,
    private readonly cancel: (handle: Handle) => void,
  ) {}

  get armed(): boolean {
    return this.handle !== null;
  }

  arm(ms: number, run: () => void): void {
    this.disarm();
    const handle = this.after(ms, () => {
      // A timer that fired while its run waited its turn (the send engine queues it behind a
      // commit) and was re-armed or disarmed meanwhile is stale: its run would act on a step
      // that has moved on (a re-ask of a number long answered, which the line may send again).
      if (this.handle !== handle) return;
      this.handle = null;
      run();
    });
    this.handle = handle;
  }

  disarm(): void {
    if (this.handle !== null) this.cancel(this.handle);
    this.handle = null;
  }
}

/** A timer slot on the global timers (looked up at call time, so fake timers in tests apply). */
export function globalTimerSlot(): TimerSlot<ReturnType<typeof setTimeout>> {
  return new TimerSlot(
    (ms, run) => setTimeout(run, ms),
    (handle) => clearTimeout(handle),
  );
}

/** Where a step stands: what a policy decides from. */
export interface StepProgress {
  /** When its first transmission left. */
  readonly startedAt: number;
  /** Transmissions after the first one so far. */
  readonly resends: number;
}

export interface RetransmitPolicy {
  /** When the timer after a transmission at `sentAt` runs out: a resend, or the give-up. */
  dueAt(sentAt: number, step: StepProgress): number;
  /** The step is unanswered for good when its timer runs out at `now`. */
  exhausted(now: number, step: StepProgress): boolean;
}

export interface StepIo {
  now(): number;
  /** Sends the datagram; false when it cannot leave and the owner has ended the step itself. */
  send(datagram: string): boolean;
  /** The policy gave up: no answer came. */
  unanswered(): void;
}

export class StepRetransmitter implements StepProgress {
  private started = 0;
  private resent = 0;
  private datagram = '';

  constructor(
    private readonly timer: OneTimer,
    private readonly policy: RetransmitPolicy,
    private readonly io: StepIo,
  ) {}

  get startedAt(): number {
    return this.started;
  }

  get resends(): number {
    return this.resent;
  }

  /** Sends `datagram` now as a new step and keeps resending it by the policy. */
  start(datagram: string): void {
    this.resent = 0;
    this.started = this.io.now();
    this.datagram = datagram;
    this.transmit();
  }

  /** The step ended (answered, or its owner moved on): no more resends. */
  stop(): void {
    this.timer.disarm();
  }

  /**
   * The step's answer came after this many ms when it answered the first transmission, else null
   * (Karn: the answer to a resent datagram may be to any of its copies).
   */
  roundTrip(): number | null {
    return this.resent === 0 ? this.io.now() - this.started : null;
  }

  /** The policy's timing changed: a first transmission still waiting is timed again from its start. */
  retime(): void {
    if (this.resent === 0 && this.timer.armed) this.armFrom(this.started);
  }

  private transmit(): void {
    if (this.io.send(this.datagram)) this.armFrom(this.io.now());
  }

  private armFrom(sentAt: number): void {
    this.timer.arm(Math.max(0, this.policy.dueAt(sentAt, this) - this.io.now()), () => this.expired());
  }

  private expired(): void {
    if (this.policy.exhausted(this.io.now(), this)) return this.io.unanswered();
    this.resent++;
    this.transmit();
  }
}
