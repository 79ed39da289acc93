/**
 * Numbers that may be on a line's radio after their session ended (abandoned, parked): they are
 * never sent elsewhere, only waited for, until their pushed result or acceptedTimeoutMs.
 */
import type { Recipient } from '../../outbox/types';
import type { BulkReply } from '../../protocol';
import type { BulkOptions } from '../options';
import type { Tel } from '../session/numbers';
import type { TimerHandle, TimerRegistry } from './timers';

interface Watched {
  recipient: Recipient;
  timer: TimerHandle;
}

function telKey(line: string, sendId: number, telId: number): string {
  return `${line}\u0000${sendId}\u0000${telId}`;
}

export class WatchedNumbers {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly timers: TimerRegistry,
    private readonly options: BulkOptions,
    /** No result came within acceptedTimeoutMs of its acceptance. */
    private readonly expired: (recipient: Recipient) => void,
  ) {}

  get size(): number {
    return this.watched.size;
  }

  watch(line: string, sendId: number, tel: Tel): void {
    const key = telKey(line, sendId, tel.telId);
    if (this.watched.has(key)) return;
    const left = (tel.acceptedAt ?? Date.now()) + this.options.acceptedTimeoutMs - Date.now();
    const timer = this.timers.after(left, () => {
      this.watched.delete(key);
      this.expired(tel.recipient);
    });
    this.watched.set(key, { recipient: tel.recipient, timer });
  }

  /** The watched number `reply` is the pushed result of, no longer watched; null when none. */
  take(line: string, reply: BulkReply): Recipient | null {
    if (reply.kind !== 'sent' && reply.kind !== 'sendFailed') return null;
    const key = telKey(line, reply.sendId, reply.telId);
    const watched = this.watched.get(key);
    if (watched === undefined) return null;
    this.watched.delete(key);
    this.timers.cancel(watched.timer);
    return watched.recipient;
  }

  /** Numbers watched on `line`. */
  on(line: string): number {
    let n = 0;
    for (const { recipient } of this.watched.values()) if (recipient.line === line) n++;
    return n;
  }

  /** Forgets them (the engine stops; they stay claimed in the outbox). */
  clear(): void {
    this.watched.clear();
  }
}
