/**
 * Every timer a line starts goes through here so stop() can clear them all at once. Calls the
 * global setTimeout/setInterval at call time, so fake timers installed by tests apply.
 */
export type TimerHandle = ReturnType<typeof setTimeout>;

export class Timers {
  /** Fake timers refuse clearTimeout on an interval, so each handle remembers its kind. */
  private readonly live = new Map<TimerHandle, 'timeout' | 'interval'>();

  after(ms: number, run: () => void): TimerHandle {
    const handle = setTimeout(() => {
      this.live.delete(handle);
      run();
    }, ms);
    this.live.set(handle, 'timeout');
    return handle;
  }

  every(ms: number, run: () => void): TimerHandle {
    const handle = setInterval(run, ms);
    this.live.set(handle, 'interval');
    return handle;
  }

  cancel(handle: TimerHandle | null | undefined): void {
    if (handle == null) return;
    const kind = this.live.get(handle);
    if (kind === undefined) return;
    this.live.delete(handle);
    if (kind === 'interval') clearInterval(handle);
    else clearTimeout(handle);
  }

  clearAll(): void {
    for (const handle of [...this.live.keys()]) this.cancel(handle);
  }
}
