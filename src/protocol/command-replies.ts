/**
 * Server commands (seed sections 5-11), the pure half: checks a command's arguments before anything
 * is sent, and tells what a device reply means for the command that asked. No I/O, no timers.
 *
 *   get_gsm_num / get_gsm_state / get_imei / CURCELL   -> the text after the sendid
 *   get_exp_time / get_remain_time / get_out_call_interval -> a number
 *   set_* `$sendid $value ok`                          -> the value set (a number for minutes/interval)
 *   svr_*, reset_remain_time, module_ctl(_i), get_cells_list `$sendid ok` -> true
 *   GSM:$sendid;get_gsm_num:..;...                     -> GsmInfo (4 fields, or 7 on real firmware)
 *   CF -> CFOK true | CFSTATE {enable, number, time} | CFERROR error
 *   USSD `$sendid $text` -> text (the literal `USSD send failed!` is an error) | USSDERROR error
 *   USSDEXIT -> true; ATSTART / ATSTOP / ATALIVE / ATCMD `$sendid OK` -> true
 *   ERROR $sendid $text (every command), GSMERROR -> error with the device's text
 */
import { COMMANDS, commandName } from './commands';
import type { GsmReply, Reply } from './device';
import { cleanValue } from './fields';
import { toNumberOrNull } from './reports';

/** The literal USSD reply text that means the network did not answer (field notes). */
export const USSD_SEND_FAILED = 'USSD send failed!';

/** Bad command input, found before anything was sent. */
export class CommandInputError extends Error {
  override name = 'CommandInputError';
}

/** The `GSM` reply: the seed's 4 fields, and the 3 more real firmware sends. */
export interface GsmInfo {
  /** '' when the device has none (`(null)`). */
  gsmNum: string;
  /** Minutes; null when absent or not a number. */
  expTime: number | null;
  remainTime: number | null;
  /** IDLE, ACTIVE, ... */
  gsmState: string;
  imei?: string;
  outCallInterval?: number | null;
  /** module_down:1 -> true. */
  moduleDown?: boolean;
}

/** `CFSTATE $sendid $enable $num $time`. */
export interface CfState {
  /** true for 1 (or the CF mode 3), false for 0 (or 4); other text as received. */
  enable: boolean | string;
  number: string;
  /** No-answer delay in seconds; null when absent. */
  time: number | null;
}

export type CommandResult =
  /** The request succeeded: `value` is what flows see as msg.payload. */
  | { ok: true; value: unknown }
  /** The device refused or failed: `text` is its own wording (or the verb when it gave none). */
  | { ok: false; verb: string; text: string };

// ---- which replies end a request ----

/** Verbs that answer `command` (its own name, its table's replyVerbs, ERROR); GSM's own is the `GSM:` form. */
export function commandReplyVerbs(command: string): readonly string[] {
  const name = canonical(command);
  return [...new Set([name, ...(COMMANDS[name].replyVerbs ?? []), 'ERROR'])];
}

/**
 * What `reply` means for `command` sent with `args` (the wire arguments), or null when the reply is
 * not one of the verbs that answer it (a reply of another kind that happens to carry the same
 * sendid: not this request's).
 */
export function interpretCommandReply(command: string, reply: Reply | GsmReply, args: readonly string[] = []): CommandResult | null {
  const name = canonical(command);
  if (reply.kind === 'gsm') return name === 'GSM' ? { ok: true, value: gsmInfo(reply) } : null;
  if (!commandReplyVerbs(name).includes(reply.verb)) return null;
  const text = reply.rest.trim();
  switch (reply.verb) {
    case 'ERROR':
    case 'GSMERROR':
    case 'CFERROR':
    case 'USSDERROR':
      return failure(reply.verb, text);
  }
  switch (name) {
    case 'GSM':
      // `GSM $sendid ...` in space form is no answer of the seed's.
      return null;
    case 'CF':
      if (reply.verb === 'CFSTATE') return { ok: true, value: cfState(reply.args) };
      return { ok: true, value: true };
    case 'USSD':
      if (reply.verb === 'USSDEXIT') return failure('USSDEXIT', 'the USSD session was closed (USSDEXIT)');
      if (text === USSD_SEND_FAILED) return failure('USSD', USSD_SEND_FAILED);
      return { ok: true, value: reply.rest };
    case 'get_gsm_num':
    case 'get_gsm_state':
    case 'get_imei':
    case 'CURCELL':
      return { ok: true, value: cleanValue(text) };
    case 'get_exp_time':
    case 'get_remain_time':
    case 'get_out_call_interval': {
      const n = toNumberOrNull(text);
      return n === null ? failure(reply.verb, `unexpected answer "${text}"`) : { ok: true, value: n };
    }
    case 'set_gsm_num':
    case 'set_imei':
    case 'set_base_cell':
    case 'set_exp_time':
    case 'set_out_call_interval':
      return setResult(name, reply, args);
    default:
      // svr_*, reset_remain_time, module_ctl(_i), get_cells_list (`ok`, the seed's `$ok`),
      // USSDEXIT, ATSTART / ATSTOP / ATALIVE / ATCMD (`OK`).
      return { ok: true, value: true };
  }
}

function failure(verb: string, text: string): CommandResult {
  return { ok: false, verb, text: text === '' ? verb : text };
}

/** `set_x $sendid $value ok` -> the value (the echoed one, else the one sent); anything else is unexpected. */
function setResult(name: string, reply: Reply, args: readonly string[]): CommandResult {
  const words = reply.args.filter((w) => w !== '');
  if (words.length === 0 || words[words.length - 1].toLowerCase() !== 'ok') {
    return failure(reply.verb, `unexpected answer "${reply.rest.trim()}"`);
  }
  const echoed = words.slice(0, -1).join(' ');
  const value = echoed !== '' ? echoed : (args[0] ?? '');
  if (name === 'set_exp_time' || name === 'set_out_call_interval') return { ok: true, value: toNumberOrNull(value) ?? value };
  return { ok: true, value };
}

function gsmInfo(reply: GsmReply): GsmInfo {
  const f = reply.fields;
  const info: GsmInfo = {
    gsmNum: f.get_gsm_num ?? '',
    expTime: toNumberOrNull(f.get_exp_time),
    remainTime: toNumberOrNull(f.get_remain_time),
    gsmState: f.get_gsm_state ?? '',
  };
  if ('imei' in f) info.imei = f.imei;
  if ('out_call_interval' in f) info.outCallInterval = toNumberOrNull(f.out_call_interval);
  if ('module_down' in f) info.moduleDown = f.module_down.trim() === '1';
  return info;
}

function cfState(args: readonly string[]): CfState {
  const [enable = '', number = '', time] = args;
  const flag = enable === '1' || enable === '3' ? true : enable === '0' || enable === '4' ? false : enable;
  return { enable: flag, number: cleanValue(number), time: toNumberOrNull(time) };
}

// ---- arguments ----

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

type Check = (value: unknown, command: string, key: string) => string;

function wholeNumber(max: number): Check {
  return (value, command, key) => {
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
    if (!/^\d{1,10}$/.test(text) || Number(text) > max) {
      throw new CommandInputError(`${command} needs ${key}: a whole number from 0 to ${max}, got ${show(value)}`);
    }
    return String(Number(text));
  };
}

/** Digits with an optional leading +; spaces, dashes and brackets people type are dropped. */
const phoneNumber: Check = (value, command, key) => {
  const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : typeof value === 'string' ? value.replace(/[\s\-().]/g, '') : '';
  if (!/^\+?[0-9*#]{1,24}$/.test(text)) throw new CommandInputError(`${command} needs ${key}: a phone number (digits, optional +), got ${show(value)}`);
  return text;
};

const imei: Check = (value, command, key) => {
  const text = typeof value === 'string' ? value.trim() : '';
  if (!/^\d{15}$/.test(text)) throw new CommandInputError(`${command} needs ${key}: exactly 15 digits (as a string), got ${show(value)}`);
  return text;
};

/**
 * module_ctl_i: 1 enables, 0 disables (CN seed). 2 is accepted too and sent as given: the EN seed
 * names 2 as the disable value and some firmware follows it. true/false mean 1/0.
 */
const moduleSwitch: Check = (value, command, key) => {
  const text = value === true ? '1' : value === false ? '0' : typeof value === 'number' || typeof value === 'string' ? String(value).trim() : '';
  if (!/^[012]$/.test(text)) throw new CommandInputError(`${command} needs ${key}: 1 (enable) or 0 (disable; 2 as the EN seed), got ${show(value)}`);
  return text;
};

/** module_ctl: one digit per line of the gateway, 1 enable, 0 disable, 2 leave as is (at most 32 lines). */
const moduleDigits: Check = (value, command, key) => {
  const text = typeof value === 'string' ? value.trim() : typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : '';
  if (!/^[012]{1,32}$/.test(text)) {
    throw new CommandInputError(`${command} needs ${key}: one digit per line, 1 enable, 0 disable, 2 unchanged (e.g. "10120121"), got ${show(value)}`);
  }
  return text;
};

const cellId: Check = (value, command, key) => {
  const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^[0-9A-Za-z_-]{1,32}$/.test(text)) throw new CommandInputError(`${command} needs ${key}: a cell id (letters and digits), got ${show(value)}`);
  return text;
};

function oneOf(allowed: readonly string[], meaning: string): Check {
  return (value, command, key) => {
    const text = typeof value === 'number' || typeof value === 'string' ? String(value).trim() : '';
    if (!allowed.includes(text)) throw new CommandInputError(`${command} needs ${key}: ${meaning}, got ${show(value)}`);
    return text;
  };
}

/** A single line of free text (USSD code, AT command): not empty, no CR or LF. */
const singleLine: Check = (value, command, key) => {
  const text = typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
  if (text === '') throw new CommandInputError(`${command} needs ${key}: a non-empty text, got ${show(value)}`);
  if (/[\r\n]/.test(text)) throw new CommandInputError(`${command} ${key} must be a single line (no newline)`);
  return text;
};

interface ArgumentRule {
  check: Check;
  /** Used when the input leaves the argument out. */
  fallback?: string;
}

const RULES: Readonly<Record<string, Readonly<Record<string, ArgumentRule>>>> = {
  set_gsm_num: { number: { check: phoneNumber } },
  set_exp_time: { minutes: { check: wholeNumber(999_999_999) } },
  set_imei: { imei: { check: imei } },
  set_out_call_interval: { interval: { check: wholeNumber(999_999_999) } },
  module_ctl_i: { value: { check: moduleSwitch } },
  module_ctl: { value: { check: moduleDigits } },
  set_base_cell: { cell: { check: cellId } },
  CF: {
    reason: { check: oneOf(['0', '1', '2', '3', '4', '5'], '0 unconditional, 1 busy, 2 no answer, 3 unreachable, 4 all, 5 all conditional') },
    mode: { check: oneOf(['3', '4'], '3 (enable) or 4 (disable)') },
    number: { check: phoneNumber },
    /** The seed: the no-answer delay in seconds, 0 for the other reasons. */
    time: { check: wholeNumber(999), fallback: '0' },
  },
  USSD: { code: { check: singleLine } },
  ATCMD: { command: { check: singleLine } },
};

/**
 * The wire arguments of `command` (in COMMANDS order) from a flow's input: an object with the
 * argument names (`{number}`, `{minutes}`, `{imei}`, `{interval}`, `{value}`, `{cell}`,
 * `{reason, mode, number, time}`, `{code}`, `{command}`), or for a one-argument command the value
 * itself (USSD and ATCMD take a string). Commands without arguments ignore the input.
 * Throws CommandInputError naming the command, the argument and what was wrong.
 */
export function commandArguments(command: string, input: unknown): string[] {
  const name = canonical(command);
  const names = COMMANDS[name].args;
  if (names.length === 0) return [];
  const rules = RULES[name];
  const source: Record<string, unknown> = isPlainObject(input) ? input : names.length === 1 ? { [names[0]]: input } : {};
  if (!isPlainObject(input) && names.length > 1) {
    throw new CommandInputError(`${name} needs an object {${names.join(', ')}}, got ${show(input)}`);
  }
  return names.map((key) => {
    const rule = rules?.[key];
    const value = source[key];
    if (value === undefined || value === null || value === '') {
      if (rule?.fallback !== undefined) return rule.fallback;
      throw new CommandInputError(`${name} needs ${key}${names.length > 1 || isPlainObject(input) ? ` in {${names.join(', ')}}` : ''}`);
    }
    return rule === undefined ? singleLine(value, name, key) : rule.check(value, name, key);
  });
}

/** The seed's spelling of `command`; throws CommandInputError for a name the seed does not have. */
export function canonicalCommand(command: unknown): string {
  return canonical(command);
}

function canonical(command: unknown): string {
  const name = typeof command === 'string' ? commandName(command) : undefined;
  if (name === undefined) {
    throw new CommandInputError(
      typeof command === 'string' && command.trim() !== '' ? `unknown GoIP command ${show(command)}` : 'no command given (set the node\'s command or msg.command)',
    );
  }
  return name;
}
