/** One number of a bulk session, and what the engine knows of its way through the line's radio. */
import type { Recipient } from '../../outbox/types';

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
