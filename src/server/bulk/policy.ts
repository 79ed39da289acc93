/**
 * The bulk engine's decisions as pure functions: where a number goes when a line gives up on it,
 * whether a line may take more work, pacing and the daily limit. No I/O, no clock of their own.
 */
import type { Recipient } from '../../outbox/types';
import type { LineInfo } from '../lines';
import type { BulkOptions } from './options';

/** Final failure reasons the engine writes (also what tests and flows match on). */
export const FAILURE = {
  /** Every line tried was silent to the SEND (it never went out there). */
  noLineAccepted: 'no line accepted it',
  /** A line accepted it (WAIT) and then never said OK or ERROR: it may have gone out. */
  silentAfterAccepting: 'line silent after accepting',
  /** A line accepted it, its result was lost and the line then forgot the session: it may have gone out. */
  forgotAfterAccepting: 'result unknown: the line forgot the session (it was accepted and may have been sent)',
  /** The radio failed on every line tried. */
  radioFailed: 'radio failed to send it',
  passwordRefused: 'line refused the bulk password',
  gsmLogout: 'line has no GSM network',
  lineOffline: 'line offline',
} as const;

export type Disposition = { action: 'requeue' } | { action: 'fail'; reason: string };

/**
 * A line gives up on a number it has NOT sent (silence before any WAIT, a radio error, a parked
 * line): another line may try it, unless the batch is pinned to this line, the number has used
 * up its attempts, or no other configured line is left for it.
 */
export function afterLineGaveUp(
  recipient: Readonly<Recipient>,
  line: string,
  reason: string,
  maxAttempts: number,
  configuredLines: readonly string[],
): Disposition {
  if (recipient.pinnedLine !== null) return { action: 'fail', reason: `${reason} (batch pinned to ${line})` };
  if (recipient.attempts >= maxAttempts) return { action: 'fail', reason: withAttempts(reason, recipient.attempts) };
  const excluded = new Set([...recipient.excludedLines, line]);
  if (configuredLines.every((id) => excluded.has(id))) return { action: 'fail', reason: withAttempts(reason, recipient.attempts) };
  return { action: 'requeue' };
}

function withAttempts(reason: string, attempts: number): string {
  return attempts > 1 ? `${reason} (${attempts} lines tried)` : reason;
}

export type ParkReason = 'password' | 'gsmLogout';

/** Why a line was quarantined: bulk handshakes left unanswered, or SMS failed in a row. */
export type QuarantineReason = 'handshake' | 'errors';

export interface Quarantine {
  reason: QuarantineReason;
  since: number;
  /** Until then the line takes nothing; after it one probing session decides. */
  until: number;
}

/** What the engine knows about a line beyond the server's view. */
export interface LineConditions {
  park: { reason: ParkReason; until: number | null } | null;
  /** Reduced session count after `too_many_sends_in_server`, until `until`. */
  busy: { cap: number; until: number } | null;
  /** The line went silent at this time: no new sessions before it is heard from again. */
  silentSince: number | null;
  /** When the line was last given a new number (pacing). */
  lastNewSendAt: number | null;
  /** The random extra gap (sendJitter) drawn for the line's next new number; absent = 0. */
  jitterMs?: number;
  /** Kept until the line answers a handshake again (also while it is probed); absent = none. */
  quarantine?: Quarantine | null;
}

function isQuarantined(conditions: LineConditions, now: number): boolean {
  return conditions.quarantine != null && now < conditions.quarantine.until;
}

export function isParked(conditions: LineConditions, now: number): boolean {
  const park = conditions.park;
  return park !== null && (park.until === null || now < park.until);
}

/** The line may open bulk sessions at all: online, on the GSM network, not parked, not silent. */
export function lineMaySend(info: LineInfo | undefined, conditions: LineConditions, now: number): boolean {
  if (info === undefined || !info.online || info.address === null) return false;
  if (info.gsmStatus === 'LOGOUT') return false;
  if (isParked(conditions, now) || isQuarantined(conditions, now)) return false;
  if (conditions.silentSince !== null && (info.lastSeen === null || info.lastSeen <= conditions.silentSince)) return false;
  return true;
}

/** Sessions the line may run now: one while it is probed after a quarantine. */
export function sessionCap(conditions: LineConditions, options: BulkOptions, now: number): number {
  if (conditions.quarantine != null) return 1;
  const busy = conditions.busy;
  return busy !== null && now < busy.until ? Math.min(busy.cap, options.sessionsPerLine) : options.sessionsPerLine;
}

/** Session cap after `too_many_sends_in_server` while `othersOpen` other sessions of ours run there. */
export function capAfterBusy(othersOpen: number): number {
  return Math.max(1, othersOpen);
}

/** ms until the line may get its next new number (minIntervalMs pacing plus its jitter); 0 = now. */
export function sendDelay(conditions: LineConditions, options: BulkOptions, now: number): number {
  const gap = options.minIntervalMs + (conditions.jitterMs ?? 0);
  if (gap <= 0 || conditions.lastNewSendAt === null) return 0;
  return Math.max(0, conditions.lastNewSendAt + gap - now);
}

/** The extra gap before a line's next new number: uniform in 0..jitterMs. */
export function drawJitter(options: BulkOptions, random: () => number): number {
  return options.jitterMs > 0 ? random() * options.jitterMs : 0;
}

/** The hourly limit leaves no room for one more number (sent in the last 60 minutes plus in flight). */
export function hourlyLimitReached(sentLastHour: number, inFlight: number, options: BulkOptions): boolean {
  return options.hourlyLimit > 0 && sentLastHour + inFlight >= options.hourlyLimit;
}

export const HOUR_MS = 3600_000;

/** The daily limit leaves no room for one more number (in-flight ones count as sent). */
export function dailyLimitReached(sentToday: number, inFlight: number, options: BulkOptions): boolean {
  return options.dailyLimit > 0 && sentToday + inFlight >= options.dailyLimit;
}

/** YYYY-MM-DD of the local calendar day (the outbox's key for daily counts). */
export function localDay(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** ms from `ms` to the next local midnight. */
export function msUntilNextDay(ms: number): number {
  const d = new Date(ms);
  const next = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
  return Math.max(1, next - ms);
}
