/** Waits that double after each failure up to a maximum, cancellable at any moment. */
export class Backoff {
  private delay: number;
  private pending: { timer: ReturnType<typeof setTimeout>; resolve: (elapsed: boolean) => void } | null = null;

  constructor(
    firstMs: number,
    private readonly maxMs: number,
  ) {
    this.delay = firstMs;
  }

  /** The length of the next wait(). */
  get nextDelayMs(): number {
    return this.delay;
  }

  /** Resolves true after the current delay (the next one is doubled), false when cancel() comes first. */
  wait(): Promise<boolean> {
    this.cancel();
    const ms = this.delay;
    this.delay = Math.min(this.maxMs, this.delay * 2);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending = null;
        resolve(true);
      }, ms);
      this.pending = { timer, resolve };
    });
  }

  cancel(): void {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    clearTimeout(pending.timer);
    pending.resolve(false);
  }
}
