/**
 * Retention: final recipients (sent, failed, expired, cancelled, blocked) older than the
 * retention are purged on a schedule, and batches left empty with them, so the store stays
 * bounded under continuous sending. A sent one is kept at least as long as a delivery report may
 * still be matched to it.
 */
import type { OutboxCalls } from '../outbox/store-ports';
import type { Asynchronous } from '../outbox/types';

/** Purge passes run this often relative to the retention, within [MIN, MAX]. */
const PASSES_PER_RETENTION = 10;
const MIN_INTERVAL_MS = 1000;
const MAX_INTERVAL_MS = 3600_000;

export const DEFAULT_RETENTION_DAYS = 30;

/** How often the purge runs for a retention of `retentionMs`. */
export function purgeIntervalMs(retentionMs: number): number {
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, retentionMs / PASSES_PER_RETENTION));
}

export class RetentionSchedule {
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly outbox: Pick<Asynchronous<OutboxCalls>, 'purge'>,
    /** 0 = keep everything. */
    private readonly retentionMs: number,
    /** The delivery-report window: no sent recipient younger than this goes. */
    private readonly deliveryWindowMs: number,
    private readonly failed: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get intervalMs(): number {
    return purgeIntervalMs(this.retentionMs);
  }

  start(): void {
    if (this.retentionMs <= 0 || this.timer !== null) return;
    void this.purgeNow();
    this.timer = setInterval(() => void this.purgeNow(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass; returns the recipients purged. */
  async purgeNow(): Promise<number> {
    try {
      return await this.outbox.purge(Math.max(this.retentionMs, this.deliveryWindowMs), this.now());
    } catch (err) {
      this.failed(err);
      return 0;
    }
  }
}
