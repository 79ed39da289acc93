/**
 * The bulk engine's decisions as pure functions: where a number goes when a line gives up on it,
 * whether a line may take more work, pacing and the daily limit, the order lines are offered sessions in (the line policy), quiet
 * hours. No I/O, no clock of their own.
 */
import type { Recipient } from '../../outbox/types';
import type { LineInfo } from '../../link/lines';
import type { BulkOptions, LinePolicy, QuarantineReason } from '../options';


/**
 * The order the engine offers lines new sessions in (goip-config `linePolicy`). With more numbers
 * than lines every allowed line works whatever the order; the policy decides who gets work when
 * there is less of it than idle lines. Pure: the caller gives the usage and the random source.
 */
export class LineOrder {
  /** The line that opened the last session (roundrobin starts after it). */
  private last: string | null = null;

  constructor(
    private readonly policy: LinePolicy,
    private readonly random: () => number,
  ) {}

  /** `ids` (the configured order) in the order to offer them work; `usedToday` only for leastUsed. */
  order<T extends { id: string }>(lines: readonly T[], usedToday: (id: string) => number): T[] {
    switch (this.policy) {
      case 'spread':
        return [...lines];
      case 'roundrobin': {
        const after = this.last === null ? -1 : lines.findIndex((line) => line.id === this.last);
        return [...lines.slice(after + 1), ...lines.slice(0, after + 1)];
      }
      case 'random':
        return shuffled(lines, this.random);
      case 'leastUsed': {
        const used = new Map(lines.map((line) => [line.id, usedToday(line.id)]));
        return [...lines].sort((a, b) => (used.get(a.id) as number) - (used.get(b.id) as number));
      }
    }
  }

  opened(id: string): void {
    this.last = id;
  }
}

/** Fisher-Yates. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

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

/**
 * Quiet hours: a daily window of local time (of this process) in which only high-priority work
 * starts a SEND. Pure: the window is `quietFromMinute` (minutes after local midnight) lasting
 * `quietMinutes` (0 = no quiet hours); it may run past midnight (21:00-08:00).
 */
const DAY_MINUTES = 24 * 60;

export interface QuietHours {
  quietFromMinute: number;
  quietMinutes: number;
}

/** When the quiet window that `now` is inside ends (ms epoch), null when `now` is outside any. */
export function quietUntil(now: number, { quietFromMinute, quietMinutes }: QuietHours): number | null {
  if (quietMinutes <= 0) return null;
  const d = new Date(now);
  // The window that began today, or yesterday and runs past midnight.
  for (const daysBack of [0, 1]) {
    const start = new Date(d.getFullYear(), d.getMonth(), d.getDate() - daysBack, 0, quietFromMinute).getTime();
    const end = new Date(d.getFullYear(), d.getMonth(), d.getDate() - daysBack, 0, quietFromMinute + Math.min(quietMinutes, DAY_MINUTES)).getTime();
    if (now >= start && now < end) return end;
  }
  return null;
}

/** `HH:MM-HH:MM` (24-hour local time) as a window; '' = none. Throws on anything else. */
export function parseQuietHours(text: string): QuietHours {
  const trimmed = text.trim();
  if (trimmed === '') return { quietFromMinute: 0, quietMinutes: 0 };
  const match = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/.exec(trimmed);
  if (match === null) throw new RangeError(`quiet hours "${text}": expected HH:MM-HH:MM, e.g. 21:00-08:00`);
  const [from, until] = [minuteOfDay(match[1], match[2]), minuteOfDay(match[3], match[4])];
  if (from === null || until === null) throw new RangeError(`quiet hours "${text}": hours 0-23, minutes 0-59`);
  return { quietFromMinute: from, quietMinutes: (until - from + DAY_MINUTES) % DAY_MINUTES };
}

function minuteOfDay(hours: string, minutes: string): number | null {
  const h = Number(hours);
  const m = Number(minutes);
  return h > 23 || m > 59 ? null : h * 60 + m;
}
