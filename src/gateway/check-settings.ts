/**
 * The balance and SIM-number checks by USSD as pure parts: their settings (goip-config, per group
 * over the defaults), their schedule (every N minutes or a cron expression) and how a USSD answer
 * reads as an amount or a number. No I/O, no clock of its own.
 */
import { Cron } from 'croner';

export interface CheckSettings {
  /** USSD code that answers the balance (`*100#`); '' = no balance check. */
  balanceUssd: string;
  /** Minutes between two checks, or a cron expression. */
  balanceEvery: string;
  /** Source of the regex whose first match (its first group if it has one) is the amount. */
  balancePattern: string;
  /** Below this amount the line is low (`lowbalance`); null = no threshold. */
  lowBalance: number | null;
  /** A low line takes no numbers until a check reads enough again. */
  parkOnLowBalance: boolean;
  /** USSD code that answers the SIM's own number; '' = none. */
  numberUssd: string;
  numberPattern: string;
}

export type CheckSettingsInput = { [K in keyof CheckSettings]?: unknown };

/** The first decimal number: `12.34` in `Your balance is 12.34`, `-5,50` with a comma. */
const DEFAULT_BALANCE_PATTERN = String.raw`-?\d+(?:[.,]\d+)?`;
/** A phone number: an optional + and 6 to 15 digits. */
const DEFAULT_NUMBER_PATTERN = String.raw`\+?\d{6,15}`;
const DEFAULT_EVERY_MINUTES = 1440;

export class CheckSettingsError extends Error {}

export type Schedule = { kind: 'interval'; ms: number } | { kind: 'cron'; cron: Cron };

/** `every`: minutes (a positive number) or a cron expression. */
export function parseSchedule(every: string): Schedule {
  const text = every.trim();
  if (text === '') return { kind: 'interval', ms: DEFAULT_EVERY_MINUTES * 60_000 };
  const minutes = Number(text);
  if (Number.isFinite(minutes)) {
    if (minutes <= 0) throw new CheckSettingsError(`balanceEvery must be more than 0 minutes, got ${text}`);
    return { kind: 'interval', ms: minutes * 60_000 };
  }
  try {
    return { kind: 'cron', cron: new Cron(text, { paused: true }) };
  } catch (err) {
    throw new CheckSettingsError(`balanceEvery "${text}" is neither minutes nor a cron expression (${(err as Error).message})`);
  }
}

/** When the check after one at `lastAt` (null: none yet, check now) is due, as of `now`. */
export function nextCheckAt(schedule: Schedule, lastAt: number | null, now: number): number {
  if (schedule.kind === 'interval') return lastAt === null ? now : Math.max(now, lastAt + schedule.ms);
  const next = schedule.cron.nextRun(new Date(now));
  return next === null ? Number.POSITIVE_INFINITY : next.getTime();
}

function compile(source: string, fallback: string, field: string): RegExp {
  try {
    return new RegExp(source.trim() === '' ? fallback : source);
  } catch (err) {
    throw new CheckSettingsError(`${field} is not a regular expression (${(err as Error).message})`);
  }
}

/** The first match of `pattern` (its first capture group when it has one), or null. */
function firstMatch(text: string, pattern: RegExp): string | null {
  const match = pattern.exec(text);
  if (match === null) return null;
  return match[1] ?? match[0];
}

/** The amount a balance answer names, or null when the pattern finds none. */
export function readAmount(text: string, pattern: string): number | null {
  const found = firstMatch(text, compile(pattern, DEFAULT_BALANCE_PATTERN, 'balancePattern'));
  if (found === null) return null;
  const amount = Number(found.replace(',', '.'));
  return Number.isFinite(amount) ? amount : null;
}

/** The phone number a number answer names, or null. */
export function readNumber(text: string, pattern: string): string | null {
  return firstMatch(text, compile(pattern, DEFAULT_NUMBER_PATTERN, 'numberPattern'));
}

function text(value: unknown): string {
  return value === undefined || value === null ? '' : String(value).trim();
}

/** Settings from goip-config or a group row over `base`; checked (patterns compile, schedule reads). */
export function checkSettings(input: CheckSettingsInput, base: CheckSettings = NO_CHECKS): CheckSettings {
  const pick = (key: keyof CheckSettings): string | undefined => (text(input[key]) === '' ? undefined : text(input[key]));
  const low = pick('lowBalance');
  const lowBalance = low === undefined ? base.lowBalance : Number(low);
  if (lowBalance !== null && !Number.isFinite(lowBalance)) throw new CheckSettingsError(`lowBalance "${low}" is not a number`);
  const park = input.parkOnLowBalance;
  const settings: CheckSettings = {
    balanceUssd: pick('balanceUssd') ?? base.balanceUssd,
    balanceEvery: pick('balanceEvery') ?? base.balanceEvery,
    balancePattern: pick('balancePattern') ?? base.balancePattern,
    lowBalance,
    parkOnLowBalance: park === undefined || park === '' ? base.parkOnLowBalance : park === true || park === 'true',
    numberUssd: pick('numberUssd') ?? base.numberUssd,
    numberPattern: pick('numberPattern') ?? base.numberPattern,
  };
  parseSchedule(settings.balanceEvery);
  compile(settings.balancePattern, DEFAULT_BALANCE_PATTERN, 'balancePattern');
  compile(settings.numberPattern, DEFAULT_NUMBER_PATTERN, 'numberPattern');
  return settings;
}

export const NO_CHECKS: Readonly<CheckSettings> = {
  balanceUssd: '',
  balanceEvery: '',
  balancePattern: '',
  lowBalance: null,
  parkOnLowBalance: false,
  numberUssd: '',
  numberPattern: '',
};

/** The amount is below the line's threshold. */
export function isLow(amount: number, settings: CheckSettings): boolean {
  return settings.lowBalance !== null && amount < settings.lowBalance;
}
