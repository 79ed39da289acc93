/**
 * Server commands (docs/protocol.md#control-commands), the pure half: checks a command's arguments before anything
 * is sent, and tells what a device reply means for the command that asked, by the `answer` of its
 * row in COMMANDS. No I/O, no timers.
 *
 *   ERROR $sendid $text (every command) or the command's own error verb -> error with the device's text
 *   USSD: USSDEXIT and the literal `USSD send failed!` are errors too
 */
import { CommandInputError, show } from './argument-checks';
import { COMMAND_ERROR_VERB, type CommandAnswer, type CommandName, COMMANDS, commandName } from './commands';
import type { GsmReply, Reply } from './device';
import { cleanValue } from './fields';
import { toNumberOrNull } from './reports';

export { CommandInputError } from './argument-checks';

/** The literal USSD reply text that means the network did not answer (docs/protocol.md#ussd). */
export const USSD_SEND_FAILED = 'USSD send failed!';

/** The `GSM` reply: the specification's 4 fields, and the 3 more real firmware sends (docs/protocol.md#gsm-all-in-one). */
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

/** Verbs that answer `command`: its own name, its row's replyVerbs, its error verb and ERROR (GSM's own is the `GSM:` form). */
function commandReplyVerbs(command: string): readonly string[] {
  const name = canonical(command);
  const definition = COMMANDS[name];
  return [...new Set([name, ...(definition.replyVerbs ?? []), definition.errorVerb, COMMAND_ERROR_VERB])];
}

/**
 * What `reply` means for `command` sent with `args` (the wire arguments), or null when the reply is
 * not one of the verbs that answer it (a reply of another kind that happens to carry the same
 * sendid: not this request's).
 */
export function interpretCommandReply(command: string, reply: Reply | GsmReply, args: readonly string[] = []): CommandResult | null {
  const name = canonical(command);
  const definition = COMMANDS[name];
  if (reply.kind === 'gsm') return definition.answer === 'gsm' ? { ok: true, value: gsmInfo(reply) } : null;
  if (!commandReplyVerbs(name).includes(reply.verb)) return null;
  if (reply.verb === COMMAND_ERROR_VERB || reply.verb === definition.errorVerb) return failure(reply.verb, reply.rest.trim());
  return readAnswer(definition.answer, reply, args);
}

function readAnswer(answer: CommandAnswer, reply: Reply, args: readonly string[]): CommandResult | null {
  const text = reply.rest.trim();
  switch (answer) {
    case 'gsm':
      // `GSM $sendid ...` in space form is no answer to GSM (docs/protocol.md#gsm-all-in-one).
      return null;
    case 'cf':
      if (reply.verb === 'CFSTATE') return { ok: true, value: cfState(reply.args) };
      return { ok: true, value: true };
    case 'ussd':
      if (reply.verb === 'USSDEXIT') return failure('USSDEXIT', 'the USSD session was closed (USSDEXIT)');
      if (text === USSD_SEND_FAILED) return failure('USSD', USSD_SEND_FAILED);
      return { ok: true, value: withoutPadding(reply.rest) };
    case 'text':
      return { ok: true, value: cleanValue(text) };
    case 'number': {
      const n = toNumberOrNull(text);
      return n === null ? failure(reply.verb, `unexpected answer "${text}"`) : { ok: true, value: n };
    }
    case 'setText':
    case 'setNumber':
      return setResult(answer, reply, args);
    case 'ok':
    case 'cells':
    case 'atstart':
    case 'atcmd':
      // `$sendid ok` (the specification's `$ok`, docs/protocol.md#command-table), `$sendid OK` (AT*), or the bare verb (USSDEXIT).
      return { ok: true, value: true };
  }
}

/**
 * Some firmware hands the network's 7-bit USSD answer over with its fill septets, which read as
 * `@` (GSM-7 code 0), at the end; the vendor's own server drops them (docs/protocol.md#ussd).
 */
function withoutPadding(text: string): string {
  return text.replace(/@+$/, '');
}

function failure(verb: string, text: string): CommandResult {
  return { ok: false, verb, text: text === '' ? verb : text };
}

/** `set_x $sendid $value ok` -> the value (the echoed one, else the one sent); anything else is unexpected. */
function setResult(answer: 'setText' | 'setNumber', reply: Reply, args: readonly string[]): CommandResult {
  const words = reply.args.filter((w) => w !== '');
  if (words.length === 0 || words[words.length - 1].toLowerCase() !== 'ok') {
    return failure(reply.verb, `unexpected answer "${reply.rest.trim()}"`);
  }
  const echoed = words.slice(0, -1).join(' ');
  const value = echoed !== '' ? echoed : (args[0] ?? '');
  if (answer === 'setNumber') return { ok: true, value: toNumberOrNull(value) ?? value };
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

/**
 * The wire arguments of `command` (in COMMANDS order) from a flow's input: an object with the
 * argument names (`{number}`, `{minutes}`, `{imei}`, `{interval}`, `{value}`, `{cell}`,
 * `{reason, mode, number, time}`, `{code}`, `{command}`), or for a one-argument command the value
 * itself (USSD and ATCMD take a string). Commands without arguments ignore the input.
 * Throws CommandInputError naming the command, the argument and what was wrong.
 */
export function commandArguments(command: string, input: unknown): string[] {
  const name = canonical(command);
  const { args: names, checks } = COMMANDS[name];
  if (names.length === 0) return [];
  const source: Record<string, unknown> = isPlainObject(input) ? input : names.length === 1 ? { [names[0]]: input } : {};
  if (!isPlainObject(input) && names.length > 1) {
    throw new CommandInputError(`${name} needs an object {${names.join(', ')}}, got ${show(input)}`);
  }
  return names.map((key) => {
    const check = checks[key];
    const value = source[key];
    if (value === undefined || value === null || value === '') {
      if (check.fallback !== undefined) return check.fallback;
      throw new CommandInputError(`${name} needs ${key}${names.length > 1 || isPlainObject(input) ? ` in {${names.join(', ')}}` : ''}`);
    }
    return check(value, name, key);
  });
}

/** The specification's spelling of `command` (docs/protocol.md#command-table); throws CommandInputError for a name it does not have. */
export function canonicalCommand(command: unknown): CommandName {
  return canonical(command);
}

function canonical(command: unknown): CommandName {
  const name = typeof command === 'string' ? commandName(command) : undefined;
  if (name === undefined) {
    throw new CommandInputError(
      typeof command === 'string' && command.trim() !== '' ? `unknown GoIP command ${show(command)}` : 'no command given (set the node\'s command or msg.command)',
    );
  }
  return name;
}
