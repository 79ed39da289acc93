/**
 * Seeded, deterministic network faults on one direction of a line's traffic: loss, duplication,
 * reordering (a datagram is held back until the next one has overtaken it) and delay.
 */
import { mulberry32, type Random } from './prng';
import type { Timers } from './timers';

/** A probability 0..1 for both directions, or one per direction. */
export type Rate = number | { out?: number; in?: number };

export interface FaultOptions {
  loss?: Rate;
  duplicate?: Rate;
  reorder?: Rate;
  /** Extra latency per datagram, uniform in [min, max] ms (both directions). */
  delayMs?: readonly [number, number];
  /** PRNG seed, default 1. */
  seed?: number;
  /** Longest a held-back datagram waits for another to overtake it, default 100 ms. */
  reorderHoldMs?: number;
}

export type Direction = 'out' | 'in';

export interface FaultCounters {
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
}

function rateFor(rate: Rate | undefined, direction: Direction): number {
  if (rate === undefined) return 0;
  if (typeof rate === 'number') return rate;
  return rate[direction] ?? 0;
}

function emptyFaultCounters(): FaultCounters {
  return { dropped: 0, duplicated: 0, reordered: 0, delayed: 0 };
}

/** One direction. `pass` decides the fate of a datagram and hands survivors to `deliver`. */
export class FaultyPipe<T> {
  readonly counters = emptyFaultCounters();
  private readonly random: Random;
  private readonly loss: number;
  private readonly duplicate: number;
  private readonly reorder: number;
  private readonly delayMs: readonly [number, number] | undefined;
  private readonly holdMs: number;
  private held: { item: T; timer: ReturnType<Timers['after']> } | null = null;

  constructor(
    options: FaultOptions | undefined,
    direction: Direction,
    private readonly timers: Timers,
    private readonly deliver: (item: T) => void,
  ) {
    // Each direction has its own stream: how much arrives cannot shift what is sent.
    this.random = mulberry32((options?.seed ?? 1) * 2 + (direction === 'out' ? 0 : 1));
    this.loss = rateFor(options?.loss, direction);
    this.duplicate = rateFor(options?.duplicate, direction);
    this.reorder = rateFor(options?.reorder, direction);
    this.delayMs = options?.delayMs;
    this.holdMs = options?.reorderHoldMs ?? 100;
  }

  pass(item: T): void {
    if (this.loss > 0 && this.random() < this.loss) {
      this.counters.dropped++;
      return;
    }
    let copies = 1;
    if (this.duplicate > 0 && this.random() < this.duplicate) {
      this.counters.duplicated++;
      copies = 2;
    }
    for (let i = 0; i < copies; i++) this.order(item);
  }

  private order(item: T): void {
    const held = this.held;
    if (held !== null) {
      this.held = null;
      this.timers.cancel(held.timer);
      this.latency(item);
      this.latency(held.item);
      return;
    }
    if (this.reorder > 0 && this.random() < this.reorder) {
      this.counters.reordered++;
      const timer = this.timers.after(this.holdMs, () => {
        if (this.held?.timer !== timer) return;
        this.held = null;
        this.latency(item);
      });
      this.held = { item, timer };
      return;
    }
    this.latency(item);
  }

  private latency(item: T): void {
    const range = this.delayMs;
    if (range === undefined || range[1] <= 0) {
      this.deliver(item);
      return;
    }
    const [min, max] = range;
    this.counters.delayed++;
    this.timers.after(min + this.random() * Math.max(0, max - min), () => this.deliver(item));
  }
}
