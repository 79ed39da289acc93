/**
 * The engine's line book. Which lines may take bulk work and how much: per line the engine's
 * sessions (kept here and nowhere else, by sendid), parking
 * (wrong password, no GSM network), a reduced session count after `too_many_sends_in_server`,
 * suspected silence and pacing. The decisions themselves are the pure functions of ./policy.
 */
import type { LineInfo } from '../../link/lines';
import type { BulkOptions, QuarantineReason } from '../options';
import { type RadioAhead, RadioPace, RoundTrip } from './timing';
import {
  capAfterBusy,
  drawJitter,
  isParked,
  type LineConditions,
  lineMaySend,
  type ParkReason,
  type Quarantine,
  sendDelay,
  sessionCap,
} from './policy';
import type { LineSession, SessionOnLine } from '../session/ports';
import type { Tel } from '../session/numbers';

/** A line's sessions by sendid. */
export class LineSessions<S extends SessionOnLine> implements Iterable<S> {
  private readonly bySendId = new Map<number, S>();

  get size(): number {
    return this.bySendId.size;
  }

  get(sendId: number): S | undefined {
    return this.bySendId.get(sendId);
  }

  /** False when a session of that sendid was kept already (it is replaced). */
  add(session: S): boolean {
    const replaced = this.bySendId.has(session.sendId);
    this.bySendId.set(session.sendId, session);
    return !replaced;
  }

  /** False when `session` was not kept. */
  delete(session: SessionOnLine): boolean {
    if (this.bySendId.get(session.sendId) !== session) return false;
    return this.bySendId.delete(session.sendId);
  }

  clear(): void {
    this.bySendId.clear();
  }

  [Symbol.iterator](): IterableIterator<S> {
    return this.bySendId.values();
  }
}

export class LineSlot<S extends SessionOnLine = SessionOnLine> implements LineConditions {
  park: LineConditions['park'] = null;
  busy: LineConditions['busy'] = null;
  silentSince: number | null = null;
  lastNewSendAt: number | null = null;
  jitterMs = 0;
  quarantine: Quarantine | null = null;
  /** Bulk handshakes left unanswered in a row, radio failures in a row. */
  unansweredHandshakes = 0;
  failuresInRow = 0;
  /** Numbers the line answered WAIT to, counted in the order the WAITs came (see Tel.acceptSeq). */
  acceptances = 0;
  readonly sessions = new LineSessions<S>();
  readonly roundTrip = new RoundTrip();
  readonly radio = new RadioPace();

  constructor(readonly id: string) {}

  /** Sessions holding (or opening) one of the device's session slots. */
  openSessions(except?: LineSession): number {
    let n = 0;
    for (const session of this.sessions) if (session !== except && session.holdsDeviceSession) n++;
    return n;
  }

  /**
   * The line's numbers without a result that may be ahead of `tel` on its one radio: those whose
   * first SEND left before `tel`'s WAIT came (the line took `tel` by then; anything asked later
   * queued behind it). Null when that cannot be told: `tel` had no WAIT, or one of them has had
   * none yet (its place and start are unknown).
   */
  radioAhead(tel: Tel): RadioAhead | null {
    if (tel.acceptSeq === null || tel.acceptedAt === null) return null;
    let count = 0;
    let firstAcceptedAt: number | null = null;
    for (const session of this.sessions) {
      const other = session.current;
      if (other === null || other === tel || other.firstAskedAt === null || other.firstAskedAt >= tel.acceptedAt) continue;
      if (other.acceptSeq === null || other.acceptedAt === null) return null;
      count++;
      firstAcceptedAt = Math.min(firstAcceptedAt ?? other.acceptedAt, other.acceptedAt);
    }
    return { count, firstAcceptedAt };
  }

  /** Numbers claimed by this line's sessions and not final yet. */
  inFlight(): number {
    let n = 0;
    for (const session of this.sessions) n += session.inFlight;
    return n;
  }
}

export class LineScheduler<S extends SessionOnLine = SessionOnLine> {
  private readonly slots = new Map<string, LineSlot<S>>();

  constructor(
    private readonly options: BulkOptions,
    private readonly random: () => number = Math.random,
  ) {}

  slot(id: string): LineSlot<S> {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = new LineSlot<S>(id);
      this.slots.set(id, slot);
    }
    return slot;
  }

  all(): IterableIterator<LineSlot<S>> {
    return this.slots.values();
  }

  /** The line's slot if it has one (a reply from a line the engine never worked with has none). */
  known(id: string): LineSlot<S> | undefined {
    return this.slots.get(id);
  }

  /**
   * The line may open one more session now: one handshake at a time per line, so a line's first
   * number is on its radio before a second session competes with it (and with every other line's
   * first) for the engine.
   */
  wantsSession(info: LineInfo, now: number): boolean {
    const slot = this.slot(info.id);
    if (!lineMaySend(info, slot, now) || slot.sessions.size >= sessionCap(slot, this.options, now)) return false;
    for (const session of slot.sessions) if (session.handshaking) return false;
    return true;
  }

  /** The line may send now (online, logged in, not parked or quarantined), whatever its sessions. */
  maySend(info: LineInfo, now: number): boolean {
    return lineMaySend(info, this.slot(info.id), now);
  }

  /** A backing-off `session` may open (again) on its line now. */
  mayRun(session: LineSession, info: LineInfo | undefined, now: number): boolean {
    const slot = this.slot(session.line);
    return lineMaySend(info, slot, now) && slot.openSessions(session) < sessionCap(slot, this.options, now);
  }

  sendDelay(id: string, now: number): number {
    return sendDelay(this.slot(id), this.options, now);
  }

  noteNewNumber(id: string, now: number): void {
    const slot = this.slot(id);
    slot.lastNewSendAt = now;
    slot.jitterMs = drawJitter(this.options, this.random);
  }

  /** A handshake went unanswered for good: the new quarantine when this one starts it, else null. */
  handshakeUnanswered(id: string, now: number): Quarantine | null {
    const slot = this.slot(id);
    slot.unansweredHandshakes++;
    return slot.unansweredHandshakes >= this.options.quarantineAfterHandshakes ? this.quarantine(slot, 'handshake', now) : null;
  }

  /** The line answered a handshake: the quarantine it leaves, else null. */
  handshakeAnswered(id: string): Quarantine | null {
    const slot = this.slot(id);
    slot.unansweredHandshakes = 0;
    const left = slot.quarantine;
    slot.quarantine = null;
    if (left !== null) slot.failuresInRow = 0;
    return left;
  }

  /** A radio result: the new quarantine when a failure streak starts one, else null. */
  radioResult(id: string, sent: boolean, now: number): Quarantine | null {
    const slot = this.slot(id);
    if (sent) {
      slot.failuresInRow = 0;
      return null;
    }
    slot.failuresInRow++;
    return slot.failuresInRow >= this.options.quarantineAfterErrors ? this.quarantine(slot, 'errors', now) : null;
  }

  /** Quarantines the line from now (again, when a probe failed); the quarantine when it is new. */
  private quarantine(slot: LineSlot, reason: QuarantineReason, now: number): Quarantine | null {
    const fresh = slot.quarantine === null;
    slot.quarantine = { reason, since: fresh ? now : (slot.quarantine as Quarantine).since, until: now + this.options.quarantineMs };
    slot.failuresInRow = 0;
    return fresh ? slot.quarantine : null;
  }

  /** The line's quarantine (also while it is probed), null when it has none. */
  quarantineOf(id: string): Quarantine | null {
    return this.slots.get(id)?.quarantine ?? null;
  }

  /** The line answered its last handshake: it is handed a number before it answers the next one. */
  trusted(id: string): boolean {
    const slot = this.slots.get(id);
    return slot === undefined || (slot.unansweredHandshakes === 0 && slot.quarantine === null);
  }

  /** Its quarantine is over and no probe has answered yet: one session (a probe, with work or without) decides. */
  probing(id: string, now: number): boolean {
    const quarantine = this.quarantineOf(id);
    return quarantine !== null && now >= quarantine.until;
  }

  /** `too_many_sends_in_server`: the line runs no more sessions than ours still open, for a while. */
  noteBusy(session: LineSession, now: number): void {
    const slot = this.slot(session.line);
    slot.busy = { cap: capAfterBusy(slot.openSessions(session)), until: now + this.options.busyCooldownMs };
  }

  park(id: string, reason: ParkReason, until: number | null): void {
    this.slot(id).park = { reason, until };
  }

  /** A keepalive: a line parked for GSM_LOGOUT is back once it reports LOGIN (old firmware: nothing). */
  onKeepalive(id: string, gsmStatus: string): boolean {
    const slot = this.slots.get(id);
    if (slot?.park?.reason !== 'gsmLogout' || (gsmStatus !== 'LOGIN' && gsmStatus !== '')) return false;
    slot.park = null;
    return true;
  }

  noteSilent(id: string, since: number): void {
    const slot = this.slot(id);
    slot.silentSince = Math.max(slot.silentSince ?? since, since);
  }

  /** The line was heard after it went silent: it may take work again. */
  onHeard(id: string, lastSeen: number | null): boolean {
    const slot = this.slots.get(id);
    if (slot?.silentSince == null || lastSeen === null || lastSeen <= slot.silentSince) return false;
    slot.silentSince = null;
    return true;
  }

  parkedCount(now: number): number {
    let n = 0;
    for (const slot of this.slots.values()) if (isParked(slot, now)) n++;
    return n;
  }
}
