/**
 * Remembers recently processed report keys for a time window, with a hard cap on entries, so a
 * resent report is acked again but processed once, and memory stays bounded whatever a device
 * (or an attacker holding its password) sends.
 */
export class DedupWindow {
  /** key -> time first seen. Map keeps insertion order, which is time order. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  /** True when `key` was seen within the window; otherwise records it and returns false. */
  seenBefore(key: string, now: number): boolean {
    this.prune(now);
    const at = this.seen.get(key);
    if (at !== undefined) return true;
    this.seen.set(key, now);
    if (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    return false;
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(now: number): void {
    for (const [key, at] of this.seen) {
      if (now - at < this.windowMs) break;
      this.seen.delete(key);
    }
  }
}
