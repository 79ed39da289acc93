/**
 * Every timer of the bulk engine goes through one registry so stop() clears them all. Calls the
 * global setTimeout at call time, so fake timers installed by tests apply.
 */
export type TimerHandle = ReturnType<typeof setTimeout>;

export class TimerRegistry {
  private readonly live = new Set<TimerHandle>();

  after(ms: number, run: () => void): TimerHandle {
    const handle = setTimeout(() => {
      this.live.delete(handle);
      run();
    }, Math.max(0, ms));
    this.live.add(handle);
    return handle;
  }

  cancel(handle: TimerHandle | null | undefined): void {
    if (handle == null || !this.live.delete(handle)) return;
    clearTimeout(handle);
  }

  clearAll(): void {
    for (const handle of this.live) clearTimeout(handle);
    this.live.clear();
  }

  get size(): number {
    return this.live.size;
  }
}
