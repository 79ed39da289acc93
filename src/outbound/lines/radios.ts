/**
 * The lines' timing as the sessions ask it (LineRadio, RoundTrips): round trips for resends and
 * each line's one radio (the order its numbers were queued in, its pace per SMS), the line's own
 * figures, else every line's.
 */
import type { BulkOptions } from '../options';
import type { Tel } from '../session/numbers';
import type { LineRadio, LineSession, RoundTrips } from '../session/ports';
import type { LineScheduler, LineSlot } from './scheduler';
import { fleetRadioSamples, RoundTrip, retransmitDelay } from './timing';

export class FleetTiming implements LineRadio, RoundTrips {
  /** Round trips to all lines: the resend delay for a line not measured yet (start-up). */
  private readonly roundTrip = new RoundTrip();
  /** Radio times measured on all lines: the pace of a line with too few SMS of its own yet. */
  private readonly radioSamples = fleetRadioSamples();

  constructor(
    private readonly lines: LineScheduler,
    private readonly options: BulkOptions,
    private readonly allSessions: () => Iterable<LineSession>,
  ) {}

  accepted(line: string): number {
    return ++this.lines.slot(line).acceptances;
  }

  acceptances(line: string): number {
    return this.lines.slot(line).acceptances;
  }

  resultCame(line: string, tel: Tel): void {
    const slot = this.lines.slot(line);
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
    this.lines.slot(line).radio.noteResult({ at: Date.now(), takenAt: null, acceptedAt: null, pushed: false, queuedBehind: true }, null);
  }

  queueChanged(line: string): void {
    for (const session of [...this.lines.slot(line).sessions]) session.paceChanged();
  }

  overdueAt(line: string, tel: Tel): number | null {
    const slot = this.lines.slot(line);
    const ahead = slot.radioAhead(tel);
    const slowest = this.slowestRadio(slot);
    if (ahead === null || slowest === null || tel.acceptedAt === null) return null;
    return slot.radio.overdueAt(tel.acceptedAt, ahead, slowest, this.options);
  }

  note(line: string, ms: number): void {
    const firstEver = this.roundTrip.timeout() === null;
    this.lines.slot(line).roundTrip.note(ms);
    this.roundTrip.note(ms);
    if (firstEver) for (const session of [...this.allSessions()]) session.roundTripMeasured();
  }

  retransmitDelay(line: string, resends: number, capMs: number): number {
    return retransmitDelay(this.lines.slot(line).roundTrip, this.roundTrip, resends, this.options, capMs);
  }

  /** The line's slowest recent SMS, or every line's while it has too few of its own. */
  private slowestRadio(slot: LineSlot): number | null {
    return slot.radio.samples.value() ?? this.radioSamples.value();
  }
}
