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
