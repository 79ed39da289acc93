/**
 * Remembers recently processed report keys for a time window, with a hard cap on entries, so a
 * resent report is acked again but processed once, and memory stays bounded whatever a device
 * (or an attacker holding its password) sends.
 */
export class DedupWindow {
  /** key -> time first seen. Map keeps insertion order, which is time order. */
  private readonly seen = new Map<number, number>();
  /** When the oldest entry expires; nothing needs pruning before then. */
  private nextExpiry = Number.POSITIVE_INFINITY;

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  /** True when `key` was seen within the window; otherwise records it and returns false. */
  seenBefore(key: number, now: number): boolean {
    if (now >= this.nextExpiry) this.prune(now);
    if (this.seen.has(key)) return true;
    this.record(key, now);
    return false;
  }

  /** Records `key` as seen at `at`, which is no earlier than anything recorded before (time order). */
  remember(key: number, at: number): void {
    this.seen.delete(key); // a key seen again moves to its new place in time order
    this.record(key, at);
  }

  /** Forgets `key`: its next arrival is processed as new (its consumer could not store it). */
  forget(key: number): void {
    this.seen.delete(key);
  }

  get size(): number {
    return this.seen.size;
  }

  private record(key: number, at: number): void {
    this.seen.set(key, at);
    if (this.seen.size === 1) this.nextExpiry = at + this.windowMs;
    if (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value as number;
      this.seen.delete(oldest);
    }
  }

  private prune(now: number): void {
    this.nextExpiry = Number.POSITIVE_INFINITY;
    for (const [key, at] of this.seen) {
      if (now - at < this.windowMs) {
        this.nextExpiry = at + this.windowMs;
        break;
      }
      this.seen.delete(key);
    }
  }
}
