/**
 * The numbers of one bulk session: the one being asked (a Tel: one number, and what the engine
 * knows of its way through the line's radio), resumed ones behind it, the telids used.
 */
import type { Recipient } from '../../outbox/types';

export class SessionNumbers {
  private currentTel: Tel | null;
  /** Resumed numbers waiting behind the current one. */
  private readonly queue: Tel[];
  private nextTelId: number;
  /** Numbers the session took (toward numbersPerSession). */
  private takenCount: number;

  constructor(tels: readonly Tel[]) {
    this.currentTel = tels[0] ?? null;
    this.queue = tels.slice(1);
    const highest = tels.reduce((max, tel) => Math.max(max, tel.telId), 0);
    this.nextTelId = highest + 1;
    this.takenCount = highest;
  }

  get current(): Tel | null {
    return this.currentTel;
  }

  /** Numbers of the session not final yet. */
  get inFlight(): number {
    return (this.currentTel === null ? 0 : 1) + this.queue.length;
  }

  get taken(): number {
    return this.takenCount;
  }

  /** The telid the next claimed number gets. */
  get nextId(): number {
    return this.nextTelId;
  }

  /** The next resumed number becomes the current one; null when none waits. */
  advance(): Tel | null {
    const queued = this.queue.shift();
    if (queued === undefined) return null;
    this.currentTel = queued;
    return queued;
  }

  /** A number just claimed with nextId becomes the current one. */
  adopt(recipient: Recipient): Tel {
    const tel = newTel(recipient, this.nextTelId++, false, null);
    this.takenCount++;
    this.currentTel = tel;
    return tel;
  }

  /** The current number leaves the session (it has its outcome). */
  dropCurrent(): void {
    this.currentTel = null;
  }

  /** The number `telId` got its result: out of the session (null when unknown or stale). */
  take(telId: number): Tel | null {
    if (this.currentTel?.telId === telId) {
      const tel = this.currentTel;
      this.currentTel = null;
      return tel;
    }
    const index = this.queue.findIndex((tel) => tel.telId === telId);
    if (index === -1) return null;
    return this.queue.splice(index, 1)[0];
  }

  /** Every resumed number waiting behind the current one leaves the session. */
  takeQueued(): Tel[] {
    return this.queue.splice(0);
  }

  /** Every number leaves the session. */
  takeAll(): Tel[] {
    const tels = this.currentTel === null ? [] : [this.currentTel];
    tels.push(...this.queue.splice(0));
    this.currentTel = null;
    return tels;
  }
}

export interface Tel {
  readonly recipient: Recipient;
  readonly telId: number;
  /** Claimed before a restart: the line may have it queued or sent it already. */
  readonly resumed: boolean;
  /**
   * The line answered WAIT, or stayed silent to its SEND while it was heard otherwise: it may be
   * sending it, so it is only ever re-asked with the same sendid/telid, never sent elsewhere.
   */
  accepted: boolean;
  /** When its first SEND left, null before. */
  firstAskedAt: number | null;
  /**
   * When the line took it, as near as can be told: when the WAIT to its first SEND came (later
   * than the truth only by that WAIT's way back), or its first SEND when that WAIT was lost.
   */
  takenAt: number | null;
  /** Start of the acceptedTimeoutMs clock, null while not accepted. */
  acceptedAt: number | null;
  /**
   * The line's acceptance count (LineRadio.accepted) when its first WAIT arrived: the line had
   * queued it by then. Null until a WAIT came.
   */
  acceptSeq: number | null;
  /**
   * The line's acceptance count when its first SEND left: every number with an acceptSeq up to
   * this one was queued on the line's radio before this one could be. Null before, and always for
   * a resumed number (it may have been queued before the restart).
   */
  askedAfterSeq: number | null;
  /** A re-ask of it went out: a result now may be the line's answer from memory, not its push. */
  reasked: boolean;
  /** When the waitRecheckMs re-ask is due while it is accepted. */
  recheckAt: number;
}

export function newTel(recipient: Recipient, telId: number, resumed: boolean, acceptedAt: number | null): Tel {
  return { recipient, telId, resumed, accepted: false, firstAskedAt: null, takenAt: null, acceptedAt, acceptSeq: null, askedAfterSeq: null, reasked: false, recheckAt: 0 };
}

/** The number may be on the line's radio: never mint a new telid for it, never send it elsewhere. */
export function mayBeOnRadio(tel: Tel): boolean {
  return tel.accepted || tel.resumed;
}
