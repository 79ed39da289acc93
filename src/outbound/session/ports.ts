/**
 * What a bulk session needs from the rest of the engine, as one narrow interface per piece that
 * provides it. A session sees its own line through these and never another session.
 */
import type { LineInfo } from '../../link/lines';
import type { Recipient } from '../../outbox/types';
import type { BulkOptions } from '../options';
import type { ParkReason } from '../lines/policy';
import type { Tel } from './numbers';
import type { TimerHandle } from '../lines/timers';

/** The engine's clock and timers (each timer runs as one unit of work). */
export interface SessionClock {
  now(): number;
  after(ms: number, run: () => void): TimerHandle;
  cancel(handle: TimerHandle): void;
}

/** The configured lines as the device link knows them (online, GSM state, where they registered). */
export interface ConfiguredLines {
  lines(): LineInfo[];
  line(id: string): LineInfo | undefined;
}

/** The line as the socket knows it. */
export interface LineLink {
  /** One datagram to the line; lost like any other when the line is unreachable. */
  send(line: string, datagram: string): void;
  password(line: string): string;
  /** Something (keepalive, reply, report) came from the line after `since`. */
  heardSince(line: string, since: number): boolean;
  online(line: string): boolean;
}

/** What the rest of the engine sees of a session: its place on its line and what it listens to. */
export interface LineSession {
  readonly line: string;
  /** The number being asked, null between numbers. */
  readonly current: Tel | null;
  /** Numbers of the session not final yet. */
  readonly inFlight: number;
  /** MSG or PASSWORD is out and unanswered. */
  readonly handshaking: boolean;
  /** The session holds one of the line's device sessions (or is about to). */
  readonly holdsDeviceSession: boolean;
  /**
   * A number accepted on the line before `askedAfterSeq` was counted is off the radio: the
   * session's accepted number, if it is one of them, lost its pushed result.
   */
  radioPassed(askedAfterSeq: number): void;
  /** Another number of the line got its result: the session's may be next on the radio now. */
  paceChanged(): void;
  /** The first round trip to any line was measured. */
  roundTripMeasured(): void;
}

/** A session as the engine keys and claims for it. */
export interface SessionOnLine extends LineSession {
  readonly sendId: number;
  readonly batchId: string;
  /** The one text the session's MSG gave the line: it claims only recipients of that text. */
  readonly text: string;
}

/** The line scheduler's say: whether and when the line takes work, and what it learns of it. */
export interface LineGate {
  /** The line may run this session now (online, not parked, within its session cap). */
  mayReopen(session: LineSession): boolean;
  /** ms before the line may get a new number (pacing), 0 = now. */
  sendDelay(line: string): number;
  noteNewNumber(line: string): void;
  /** `too_many_sends_in_server`. */
  busy(session: LineSession): void;
  park(line: string, reason: ParkReason): void;
  /** Nothing came from the line since `since`. */
  silent(line: string, since: number): void;
  /** The line authorized a session: it has shown it takes work (a quarantine ends). */
  handshakeAnswered(line: string): void;
  /** A bulk handshake (MSG or PASSWORD) of the line went unanswered for good. */
  handshakeUnanswered(line: string): void;
  /** A number of the line got its radio result: sent, or failed (errorstatus). */
  radioResult(line: string, sent: boolean): void;
}

/** The line's one radio: the order its numbers were queued in, and its measured pace. */
export interface LineRadio {
  /** A WAIT came for a number not accepted before: the line's next acceptance count. */
  accepted(line: string): number;
  /** The line's acceptance count now. */
  acceptances(line: string): number;
  /**
   * A number of the line got its radio result (OK/ERROR) now: the pace learns from it, and every
   * number accepted up to its askedAfterSeq was before it on the radio (their sessions hear it).
   */
  resultCame(line: string, tel: Tel): void;
  /** A number of the line was accepted: the order of its radio queue is better known. */
  queueChanged(line: string): void;
  /** When `tel`'s result is overdue by the line's measured radio pace, null when that is unknown. */
  overdueAt(line: string, tel: Tel): number | null;
}

/** The round trips measured to the lines. */
export interface RoundTrips {
  /** A step was answered at its first transmission after `ms`. */
  note(line: string, ms: number): void;
  /** When to send a datagram to the line again after `resends` resends so far, at most `capMs`. */
  retransmitDelay(line: string, resends: number, capMs: number): number;
}

/** The engine's side of a session's numbers: claims and outcomes in the outbox, and its end. */
export interface SessionOutcomes {
  /**
   * Claims the next number of the session's batch for its line with `telId` and tells `claimed` the
   * recipient once the claim is stored (null when none may go): at once, or after the store answers.
   */
  claimNext(session: SessionOnLine, telId: number, claimed: (recipient: Recipient | null) => void): void;
  sent(tel: Tel, smsNo: number | null): void;
  /** The line has not sent it and will not: another line or a final failure (policy). */
  giveUp(tel: Tel, reason: string): void;
  fail(tel: Tel, reason: string): void;
  /** A number that may be on the radio outlives its session: wait for its pushed result. */
  watch(line: string, sendId: number, tel: Tel): void;
  /** The session is authorized: the line may open its next session. */
  handshakeDone(): void;
  ended(session: SessionOnLine): void;
}

export interface SessionPorts {
  readonly options: BulkOptions;
  readonly clock: SessionClock;
  readonly link: LineLink;
  readonly gate: LineGate;
  readonly radio: LineRadio;
  readonly roundTrips: RoundTrips;
  readonly outcomes: SessionOutcomes;
  /** Something the engine should report without stopping (a phase change its table does not list). */
  warn(err: Error): void;
}
