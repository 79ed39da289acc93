/**
 * Server -> device messages: format (server side) and parse (simulator side).
 * Pure: text in, values out.
 */
import { type CommandName, COMMANDS, commandName } from './commands';

/** Largest SMS text the bulk session accepts, in UTF-8 bytes (docs/protocol.md#device-session-limits). */
export const MAX_MESSAGE_BYTES = 3000;

export function formatRegAck(count: string | number, status: string | number): string {
  return `reg:${count};status:${status};`;
}

export function formatReportAck(verb: string, reportId: string): string {
  return `${verb} ${reportId} OK`;
}

export function formatReportError(verb: string, reportId: string, reason: string): string {
  return `${verb} ${reportId} ERROR ${reason}`;
}

/** `MSG $sendid $length $msg\n` where length counts UTF-8 bytes, not characters. */
export function formatBulkMessage(sendId: number, text: string): string {
  return `MSG ${sendId} ${Buffer.byteLength(text, 'utf8')} ${text}\n`;
}

export function formatBulkPassword(sendId: number, password: string): string {
  return `PASSWORD ${sendId} ${password}\n`;
}

export function formatBulkSend(sendId: number, telId: number, number: string): string {
  return `SEND ${sendId} ${telId} ${number}\n`;
}

export function formatBulkDone(sendId: number): string {
  return `DONE ${sendId}\n`;
}

/**
 * A control command (docs/protocol.md#command-table), `args` in the definition's order. No command
 * carries a trailing newline: none is specified, and in USSD it would leak into the code
 * (docs/protocol.md#command-rules).
 */
export function formatCommand(name: string, sendId: number, password: string, args: readonly string[] = []): string {
  const canonical = commandName(name);
  if (canonical === undefined) throw new Error(`unknown GoIP command "${name}"`);
  const definition = COMMANDS[canonical];
  if (args.length !== definition.args.length) {
    throw new Error(`${canonical} takes ${definition.args.length} argument(s), got ${args.length}`);
  }
  const parts = definition.passwordFirst
    ? [canonical, String(sendId), password, ...args]
    : [canonical, String(sendId), ...args, password];
  return parts.join(' ');
}

// ---- parse (the simulator's side) ----

export type ServerMessage =
  | { kind: 'regAck'; count: string; status: string }
  | { kind: 'reportAck'; verb: string; reportId: string; ok: boolean; error: string }
  | { kind: 'bulkMessage'; sendId: number; length: number; text: string }
  | { kind: 'bulkPassword'; sendId: number; password: string }
  | { kind: 'bulkSend'; sendId: number; telId: number; number: string }
  | { kind: 'bulkDone'; sendId: number }
  | { kind: 'command'; name: CommandName; sendId: number; password: string; args: string[] }
  | { kind: 'invalid'; reason: string };

function stripNewline(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

function parseCommand(name: CommandName, sendId: number, words: string[]): ServerMessage {
  const definition = COMMANDS[name];
  const n = definition.args.length;
  let password: string;
  let args: string[];
  if (definition.passwordFirst) {
    password = words[0] ?? '';
    args = words.slice(1);
  } else {
    password = words[words.length - 1] ?? '';
    args = words.slice(0, -1);
  }
  if (definition.freeTextLast && n > 0 && args.length > n) {
    args = [...args.slice(0, n - 1), args.slice(n - 1).join(' ')];
  }
  if (args.length !== n) return { kind: 'invalid', reason: `${name} with ${args.length} argument(s)` };
  return { kind: 'command', name, sendId, password, args };
}

export function parseServerMessage(text: string): ServerMessage {
  const reg = /^reg:(-?\d+);status:([^;]*);/.exec(text);
  if (reg !== null) return { kind: 'regAck', count: reg[1], status: reg[2] };
  const ack = /^([A-Za-z_][A-Za-z0-9_]*) (-?\d+) (OK|ERROR)(?: ([\s\S]*))?$/.exec(stripNewline(text));
  if (ack !== null && commandName(ack[1]) === undefined && !['MSG', 'PASSWORD', 'SEND', 'DONE'].includes(ack[1])) {
    return { kind: 'reportAck', verb: ack[1], reportId: ack[2], ok: ack[3] === 'OK', error: ack[4] ?? '' };
  }
  const head = /^([A-Za-z_][A-Za-z0-9_]*) (\d+)(?: |\n|$)/.exec(text);
  if (head === null) return { kind: 'invalid', reason: 'not a GoIP server message' };
  const [whole, verb, id] = head;
  const sendId = Number(id);
  if (verb === 'MSG') {
    const m = /^MSG \d+ (\d+) ([\s\S]*)$/.exec(stripNewline(text));
    if (m === null) return { kind: 'invalid', reason: 'MSG without length' };
    return { kind: 'bulkMessage', sendId, length: Number(m[1]), text: m[2] };
  }
  const words = stripNewline(text.slice(whole.length)).split(' ').filter((w) => w !== '');
  switch (verb) {
    case 'PASSWORD':
      return { kind: 'bulkPassword', sendId, password: words.join(' ') };
    case 'SEND':
      if (words.length !== 2 || !/^\d+$/.test(words[0])) return { kind: 'invalid', reason: 'SEND without telid and number' };
      return { kind: 'bulkSend', sendId, telId: Number(words[0]), number: words[1] };
    case 'DONE':
      return { kind: 'bulkDone', sendId };
  }
  const name = commandName(verb);
  if (name === undefined || name !== verb) return { kind: 'invalid', reason: `unknown command ${verb}` };
  return parseCommand(name, sendId, words);
}
