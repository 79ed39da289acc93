/**
 * What the engine learns about the lines' timing. Pure bookkeeping (the caller passes the clock):
 * - RoundTrip: how long the line takes to answer a step (RFC 6298 smoothing), so one lost datagram
 *   is resent after a few round trips instead of a fixed stepTimeoutMs;
 * - RadioPace: how long its radio takes per SMS, measured from the pushed results, so a result
 *   that is overdue (lost) can be told from one that is merely slow;
 * and FleetTiming, that bookkeeping kept per line and for all lines, as the sessions ask it.
 */
import type { BulkOptions } from '../options';
import type { Tel } from '../session/numbers';
import type { LineRadio, LineSession, RoundTrips } from '../session/ports';

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
 * When to send a datagram again after `resends` resends: the round-trip timeout (the line's own,
 * else the one measured over all lines, else initialRetransmitMs), doubled per resend from the
 * second on, within [minRetransmitMs, capMs].
 */
export function retransmitDelay(line: RoundTrip, all: RoundTrip, resends: number, options: BulkOptions, capMs: number): number {
  const { minRetransmitMs, initialRetransmitMs } = options;
  const rto = line.timeout() ?? all.timeout() ?? initialRetransmitMs;
  return Math.min(capMs, Math.max(rto, minRetransmitMs) * 2 ** Math.min(Math.max(0, resends - 1), 30));
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
function lineRadioSamples(): SlowestRecent {
  return new SlowestRecent(8, 3);
}

/** Every line's radio time per SMS: the slowest of the last 32, for lines with too few of their own. */
function fleetRadioSamples(): SlowestRecent {
  return new SlowestRecent(32, 3);
}

/** A result of a line's radio, as RadioPace needs it. */
export interface RadioResult {
  /** When it came. */
  at: number;
  /** When the line took the number (Tel.takenAt): its start on the radio if the radio was idle. */
  takenAt: number | null;
  /** When its first WAIT came: the latest the line took it; null when no WAIT came. */
  acceptedAt: number | null;
  /** The line pushed it unasked (not an answer to a re-ask). */
  pushed: boolean;
  /** A number that may have been ahead of it on the radio has no result yet. */
  queuedBehind: boolean;
}

/** The line's numbers without a result that may be ahead of one on its radio (SlotRadio.ahead). */
export interface RadioAhead {
  count: number;
  /** The earliest WAIT among them, null when there are none. */
  firstAcceptedAt: number | null;
}

export class RadioPace {
  readonly samples = lineRadioSamples();
  /** When the radio last finished a number (a result came), null before. */
  private doneAt: number | null = null;
  /** doneAt is when the result was pushed, not an estimate after a re-ask found it done. */
  private doneExact = false;

  /**
   * Learns from a result; returns the radio-time sample it gave, or null. Only a clean case
   * gives one: pushed, nothing possibly ahead of it still pending, and its start known: the later
   * of when the line took it and the previous result.
   *
   * An answer to a re-ask says only that the radio finished it by now. When its start is known
   * it is taken to have finished `slowest` (the pace) after its latest possible start, so the
   * number behind it is not judged from the late answer.
   */
  noteResult(result: RadioResult, slowest: number | null): number | null {
    const { at, takenAt, acceptedAt, pushed, queuedBehind } = result;
    const previous = this.doneAt;
    let sample: number | null = null;
    let doneAt = at;
    if (!queuedBehind && takenAt !== null && acceptedAt !== null) {
      if (pushed && (previous === null || this.doneExact || takenAt >= previous)) {
        sample = at - Math.max(takenAt, previous ?? takenAt);
        this.samples.note(sample);
      } else if (!pushed && slowest !== null) {
        doneAt = Math.min(at, Math.max(acceptedAt, previous ?? acceptedAt) + slowest);
      }
    }
    this.doneAt = Math.max(doneAt, previous ?? doneAt);
    this.doneExact = pushed;
    return sample;
  }

  /**
   * When the result of a number accepted at `acceptedAt` (its WAIT) is overdue. The radio has
   * worked on it and the `ahead` numbers since the later of the last result and the earliest of
   * their WAITs, one `slowest` (the line's slowest recent SMS) each; overdueFactor - 1 of one
   * more on top means its push was lost. Null when the rule is off.
   */
  overdueAt(acceptedAt: number, ahead: RadioAhead, slowest: number, options: BulkOptions): number | null {
    if (options.overdueFactor <= 0) return null;
    const radioOnItFrom = Math.min(acceptedAt, ahead.firstAcceptedAt ?? acceptedAt);
    const base = Math.max(radioOnItFrom, this.doneAt ?? radioOnItFrom);
    return base + (ahead.count + options.overdueFactor) * slowest;
  }
}

/** What the line book keeps of one line's timing. */
export interface LineTimes {
  /** WAITs counted on the line (LineRadio.accepted). */
  acceptances: number;
  readonly roundTrip: RoundTrip;
  readonly radio: RadioPace;
  readonly sessions: Iterable<LineSession>;
  radioAhead(tel: Tel): RadioAhead | null;
}

/**
 * The lines' timing as the sessions ask it (LineRadio, RoundTrips): round trips for resends and
 * each line's one radio (the order its numbers were queued in, its pace per SMS), the line's own
 * figures, else every line's.
 */
export class FleetTiming implements LineRadio, RoundTrips {
  /** Round trips to all lines: the resend delay for a line not measured yet (start-up). */
  private readonly roundTrip = new RoundTrip();
  /** Radio times measured on all lines: the pace of a line with too few SMS of its own yet. */
  private readonly radioSamples = fleetRadioSamples();

  constructor(
    /** The line book's slot of a line, where its own figures are kept. */
    private readonly slotOf: (line: string) => LineTimes,
    private readonly options: BulkOptions,
    private readonly allSessions: () => Iterable<LineSession>,
  ) {}

  accepted(line: string): number {
    return ++this.slotOf(line).acceptances;
  }

  acceptances(line: string): number {
    return this.slotOf(line).acceptances;
  }

  resultCame(line: string, tel: Tel): void {
    const slot = this.slotOf(line);
    const ahead = slot.radioAhead(tel);
    const result = { at: Date.now(), takenAt: tel.takenAt, acceptedAt: tel.acceptedAt, pushed: !tel.reasked, queuedBehind: ahead === null || ahead.count > 0 };
    const sample = slot.radio.noteResult(result, this.slowestRadio(slot));
    const fleetPaceKnownBefore = this.radioSamples.value() !== null;
    if (sample !== null) this.radioSamples.note(sample);
    const askedAfterSeq = tel.askedAfterSeq;
    if (askedAfterSeq !== null) for (const session of [...slot.sessions]) session.radioPassed(askedAfterSeq);
    // The first pace known at all: the numbers of lines without one of their own can use it now.
    const fleetPaceNew = !fleetPaceKnownBefore && this.radioSamples.value() !== null;
    for (const session of [...(fleetPaceNew ? this.allSessions() : slot.sessions)]) session.paceChanged();
  }

  /** The pushed result of a number whose session is gone: the radio finished one, its start unknown. */
  watchedResultCame(line: string): void {
    this.slotOf(line).radio.noteResult({ at: Date.now(), takenAt: null, acceptedAt: null, pushed: false, queuedBehind: true }, null);
  }

  queueChanged(line: string): void {
    for (const session of [...this.slotOf(line).sessions]) session.paceChanged();
  }

  overdueAt(line: string, tel: Tel): number | null {
    const slot = this.slotOf(line);
    const ahead = slot.radioAhead(tel);
    const slowest = this.slowestRadio(slot);
    if (ahead === null || slowest === null || tel.acceptedAt === null) return null;
    return slot.radio.overdueAt(tel.acceptedAt, ahead, slowest, this.options);
  }

  note(line: string, ms: number): void {
    const firstEver = this.roundTrip.timeout() === null;
    this.slotOf(line).roundTrip.note(ms);
    this.roundTrip.note(ms);
    if (firstEver) for (const session of [...this.allSessions()]) session.roundTripMeasured();
  }

  retransmitDelay(line: string, resends: number, capMs: number): number {
    return retransmitDelay(this.slotOf(line).roundTrip, this.roundTrip, resends, this.options, capMs);
  }

  /** The line's slowest recent SMS, or every line's while it has too few of its own. */
  private slowestRadio(slot: LineTimes): number | null {
    return slot.radio.samples.value() ?? this.radioSamples.value();
  }
}
