/**
 * One timer for the queue's clock: it fires when the next queued number becomes due (sendAt) or
 * expires, so neither waits for the engine's safety-net poll.
 */
import type { TimerHandle, TimerRegistry } from './timers';

export class TimedWake {
  private timer: TimerHandle | null = null;

  constructor(
    private readonly timers: TimerRegistry,
    /** The next due or expiry time (ms epoch), null when none is pending. */
    private readonly nextAt: () => number | null,
    private readonly wake: () => void,
  ) {}

  /** Arms the timer for the next time the queue holds (replacing the one armed before). */
  rearm(now: number): void {
    this.timers.cancel(this.timer);
    const at = this.nextAt();
    this.timer =
      at === null
        ? null
        : this.timers.after(at - now, () => {
            this.timer = null;
            this.wake();
          });
  }

  /** The engine stopped: its timers are gone. */
  reset(): void {
    this.timer = null;
  }
}
