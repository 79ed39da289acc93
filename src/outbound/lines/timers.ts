/**
 * The engine's timers. Every timer of the bulk engine goes through one registry so stop() clears
 * them all. Calls the global setTimeout at call time, so fake timers installed by tests apply.
 *
 * A timer of the engine usually decides that a line was silent (resend, re-ask, fail over). When
 * the event loop is busy, a timer can expire while the line's answer already sits unread in the
 * socket (timers run before the loop reads input). So with `received` (the socket's count of
 * datagrams read), an expired timer runs only after a loop turn that read nothing new: the input
 * that arrived in time is handled first. At most MAX_DRAIN_TURNS turns, so a flood cannot hold
 * a decision back for long.
 *
 * TimedWake is the one timer of the queue's clock.
 */
export interface TimerHandle {
  timeout: ReturnType<typeof setTimeout> | null;
  immediate: ReturnType<typeof setImmediate> | null;
}

/** Loop turns an expired timer waits for input to drain (libuv reads up to 32 datagrams a turn). */
const MAX_DRAIN_TURNS = 64;

export class TimerRegistry {
  private readonly live = new Set<TimerHandle>();

  constructor(private readonly received: (() => number) | null = null) {}

  after(ms: number, run: () => void): TimerHandle {
    const handle: TimerHandle = { timeout: null, immediate: null };
    const fire = (): void => {
      this.live.delete(handle);
      run();
    };
    handle.timeout = setTimeout(() => {
      handle.timeout = null;
      if (this.received === null) return fire();
      this.whenDrained(handle, this.received(), 0, fire);
    }, Math.max(0, ms));
    this.live.add(handle);
    return handle;
  }

  cancel(handle: TimerHandle | null | undefined): void {
    if (handle == null || !this.live.delete(handle)) return;
    clear(handle);
  }

  clearAll(): void {
    for (const handle of this.live) clear(handle);
    this.live.clear();
  }

  get size(): number {
    return this.live.size;
  }

  private whenDrained(handle: TimerHandle, seen: number, turns: number, fire: () => void): void {
    handle.immediate = setImmediate(() => {
      handle.immediate = null;
      const now = (this.received as () => number)();
      if (now !== seen && turns + 1 < MAX_DRAIN_TURNS) return this.whenDrained(handle, now, turns + 1, fire);
      fire();
    });
  }
}

function clear(handle: TimerHandle): void {
  if (handle.timeout !== null) clearTimeout(handle.timeout);
  if (handle.immediate !== null) clearImmediate(handle.immediate);
  handle.timeout = null;
  handle.immediate = null;
}

/**
 * One timer for the queue's clock: it fires when the next queued number becomes due (sendAt) or
 * expires, so neither waits for the engine's safety-net poll.
 */
export class TimedWake {
  private timer: TimerHandle | null = null;

  constructor(
    private readonly timers: TimerRegistry,
    /** The next due or expiry time (ms epoch), null when none is pending. */
    private readonly nextAt: () => Promise<number | null>,
    private readonly wake: () => void,
  ) {}

  /** Arms the timer for the next time the queue holds (replacing the one armed before). */
  async rearm(now: number): Promise<void> {
    const at = await this.nextAt();
    this.timers.cancel(this.timer);
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
