/**
 * Checks of command arguments, before anything is sent: each takes a flow's value and returns the
 * wire text, or throws CommandInputError naming the command, the argument and what was wrong.
 */

/** Bad command input, found before anything was sent. */
export class CommandInputError extends Error {
  override name = 'CommandInputError';
}

export interface ArgumentCheck {
  (value: unknown, command: string, key: string): string;
  /** Sent when the input leaves the argument out. */
  readonly fallback?: string;
}

/** `value` as a message shows it. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function withFallback(check: ArgumentCheck, fallback: string): ArgumentCheck {
  return Object.assign((value: unknown, command: string, key: string) => check(value, command, key), { fallback });
}

export function wholeNumber(max: number): ArgumentCheck {
  return (value, command, key) => {
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
    if (!/^\d{1,10}$/.test(text) || Number(text) > max) {
      throw new CommandInputError(`${command} needs ${key}: a whole number from 0 to ${max}, got ${show(value)}`);
    }
    return String(Number(text));
  };
}

/** Digits with an optional leading +; spaces, dashes and brackets people type are dropped. */
export const phoneNumber: ArgumentCheck = (value, command, key) => {
  const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : typeof value === 'string' ? value.replace(/[\s\-().]/g, '') : '';
  if (!/^\+?[0-9*#]{1,24}$/.test(text)) throw new CommandInputError(`${command} needs ${key}: a phone number (digits, optional +), got ${show(value)}`);
  return text;
};

export const imei: ArgumentCheck = (value, command, key) => {
  const text = typeof value === 'string' ? value.trim() : '';
  if (!/^\d{15}$/.test(text)) throw new CommandInputError(`${command} needs ${key}: exactly 15 digits (as a string), got ${show(value)}`);
  return text;
};

/**
 * module_ctl_i: 1 enables, 0 disables. 2 is accepted too and sent as given: the older English
 * specification names 2 as the disable value and some firmware follows it
 * (docs/protocol.md#module-control). true/false mean 1/0.
 */
export const moduleSwitch: ArgumentCheck = (value, command, key) => {
  const text = value === true ? '1' : value === false ? '0' : typeof value === 'number' || typeof value === 'string' ? String(value).trim() : '';
  if (!/^[012]$/.test(text)) throw new CommandInputError(`${command} needs ${key}: 1 (enable) or 0 (disable; 2 on some firmware), got ${show(value)}`);
  return text;
};

/** module_ctl: one digit per line of the gateway, 1 enable, 0 disable, 2 leave as is (at most 32 lines). */
export const moduleDigits: ArgumentCheck = (value, command, key) => {
  const text = typeof value === 'string' ? value.trim() : typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : '';
  if (!/^[012]{1,32}$/.test(text)) {
    throw new CommandInputError(`${command} needs ${key}: one digit per line, 1 enable, 0 disable, 2 unchanged (e.g. "10120121"), got ${show(value)}`);
  }
  return text;
};

export const cellId: ArgumentCheck = (value, command, key) => {
  const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^[0-9A-Za-z_-]{1,32}$/.test(text)) throw new CommandInputError(`${command} needs ${key}: a cell id (letters and digits), got ${show(value)}`);
  return text;
};

export function oneOf(allowed: readonly string[], meaning: string): ArgumentCheck {
  return (value, command, key) => {
    const text = typeof value === 'number' || typeof value === 'string' ? String(value).trim() : '';
    if (!allowed.includes(text)) throw new CommandInputError(`${command} needs ${key}: ${meaning}, got ${show(value)}`);
    return text;
  };
}

/** A single line of free text (USSD code, AT command): not empty, no CR or LF. */
export const singleLine: ArgumentCheck = (value, command, key) => {
  const text = typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
  if (text === '') throw new CommandInputError(`${command} needs ${key}: a non-empty text, got ${show(value)}`);
  if (/[\r\n]/.test(text)) throw new CommandInputError(`${command} ${key} must be a single line (no newline)`);
  return text;
};
