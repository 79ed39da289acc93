/**
 * What the engine learns about a line's timing, as pure bookkeeping (the caller passes the clock):
 *
 * - RoundTrip: how long the line takes to answer a step (RFC 6298 smoothing), so one lost datagram
 *   is resent after a few round trips instead of a fixed stepTimeoutMs.
 * - RadioPace: how long its radio takes per SMS, measured from the pushed results, so a result
 *   that is overdue (lost) can be told from one that is merely slow.
 */
import type { BulkOptions } from './options';

/** RFC 6298 gains and variance weight. */
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;

export class RoundTrip {
  private srtt: number | null = null;
  private rttvar = 0;

  /** A step answered at its first transmission (Karn: a resent step's answer is ambiguous). */
  note(ms: number): void {
    const sample = Math.max(0, ms);
    if (this.srtt === null) {
      this.srtt = sample;
      this.rttvar = sample / 2;
      return;
    }
    this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - sample);
    this.srtt = (1 - ALPHA) * this.srtt + ALPHA * sample;
  }

  /** The retransmission timeout, null before the first sample. */
  timeout(): number | null {
    return this.srtt === null ? null : this.srtt + K * this.rttvar;
  }
}

/**
 * When to send a step again after `resends` resends: the round-trip timeout (the line's own, else
 * the one measured over all lines, else initialRetransmitMs) doubled per resend, within
 * [minRetransmitMs, stepTimeoutMs].
 */
export function retransmitDelay(line: RoundTrip, all: RoundTrip, resends: number, options: BulkOptions): number {
  const { stepTimeoutMs, minRetransmitMs, initialRetransmitMs } = options;
  const rto = line.timeout() ?? all.timeout() ?? initialRetransmitMs;
  return Math.min(stepTimeoutMs, Math.max(rto, minRetransmitMs) * 2 ** Math.min(resends, 30));
}

/** The slowest of the last `size` samples, once `min` were taken. */
export class SlowestRecent {
  private readonly samples: number[] = [];

  constructor(
    private readonly size: number,
    private readonly min: number,
  ) {}

  note(sample: number): void {
    this.samples.push(sample);
    if (this.samples.length > this.size) this.samples.shift();
  }

  value(): number | null {
    return this.samples.length < this.min ? null : Math.max(...this.samples);
  }
}

/** A line's radio time per SMS: the slowest of its last 8, trusted from 3 samples. */
export function lineRadioSamples(): SlowestRecent {
  return new SlowestRecent(8, 3);
}

/** Every line's radio time per SMS: the slowest of the last 32, for lines with too few of their own. */
export function fleetRadioSamples(): SlowestRecent {
  return new SlowestRecent(32, 3);
}

export class RadioPace {
  readonly samples = lineRadioSamples();
  /** When the radio last finished a number (a result came), null before. */
  private doneAt: number | null = null;
  /** doneAt is when the result was pushed, not when a re-ask found it done (earlier, unknown). */
  private doneExact = false;

  /**
   * A result (OK or ERROR) came at `at` for a number the line accepted at `acceptedAt` (its WAIT;
   * null when it was never seen accepted). `pushed`: the line pushed it unasked (not an answer to
   * a re-ask); `queuedBehind`: an older accepted number of the line has no result yet, so this
   * one's start on the radio is unknown. Only a clean case yields a sample (returned, else null):
   * the radio started at the later of its WAIT and the previous result, and finished now.
   *
   * An answer to a re-ask says only that the radio finished it by now; when its start is known it
   * is taken to have finished after `slowest` (the pace), so the number behind it is not judged
   * from the late answer.
   */
  noteResult(at: number, acceptedAt: number | null, pushed: boolean, queuedBehind: boolean, slowest: number | null): number | null {
    const previous = this.doneAt;
    const startKnown = !queuedBehind && acceptedAt !== null && (previous === null || this.doneExact || acceptedAt >= previous);
    const start = acceptedAt === null ? null : Math.max(acceptedAt, previous ?? acceptedAt);
    let sample: number | null = null;
    let doneAt = at;
    if (startKnown && start !== null) {
      if (pushed) {
        sample = at - start;
        this.samples.note(sample);
      } else if (slowest !== null) {
        doneAt = Math.min(at, start + slowest);
      }
    }
    this.doneAt = Math.max(doneAt, previous ?? doneAt);
    this.doneExact = pushed;
    return sample;
  }

  /**
   * When the result of the line's oldest pending number (accepted at `acceptedAt`) is overdue:
   * its radio started at the later of its WAIT and the previous result and should be done after
   * `slowest` (the line's slowest recent SMS); overdueFactor times that means its push was lost.
   */
  overdueAt(acceptedAt: number, slowest: number, options: BulkOptions): number | null {
    if (options.overdueFactor <= 0) return null;
    return Math.max(acceptedAt, this.doneAt ?? acceptedAt) + slowest * options.overdueFactor;
  }
}
