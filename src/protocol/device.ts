/**
 * Device -> server messages: parse (server side) and format (simulator side).
 * Pure: text in, values out.
 */
import { type Fields, splitFields } from './fields';
import { definitionFor, TAIL_KEYS, toNumberOrNull } from './reports';

export interface Keepalive {
  kind: 'keepalive';
  count: string;
  id: string;
  password: string;
  num: string;
  /** AT+CSQ 0-31, 99 = unknown; null when absent. */
  signal: number | null;
  gsmStatus: string;
  voipStatus: string;
  imei: string;
  imsi: string;
  iccid: string;
  carrier: string;
  /** Every field as received, unknown keys included, password removed. */
  fields: Fields;
}

export interface Report {
  kind: 'report';
  verb: string;
  /** Signed decimal as sent; kept as text so the ack repeats it exactly. */
  reportId: string;
  id: string;
  password: string;
  /** Every field as received, password removed. */
  fields: Fields;
}

/** A space-separated reply to a server request (`OK 11 1 32`, `get_gsm_num 5 +123`). */
export interface Reply {
  kind: 'reply';
  verb: string;
  sendId: string;
  /** Text after `VERB sendId `, trailing newline removed. */
  rest: string;
  /** `rest` split on single spaces. */
  args: string[];
}

/** `GSM:$sendid;get_gsm_num:..;...` — the one reply in key:value form. */
export interface GsmReply {
  kind: 'gsm';
  sendId: string;
  fields: Fields;
}

export interface Invalid {
  kind: 'invalid';
  reason: string;
}

export type DeviceMessage = Keepalive | Report | Reply | GsmReply | Invalid;

const PASSWORD_KEYS = ['password', 'pass'] as const;
const REPORT_HEAD = /^([A-Za-z_][A-Za-z0-9_]*):(-?\d{1,20});?/;
const REPLY_HEAD = /^([A-Za-z_][A-Za-z0-9_]*) (-?\d{1,20})(?: |\r?\n|$)/;

function takePassword(fields: Fields): string {
  let password: string | undefined;
  for (const key of PASSWORD_KEYS) {
    if (key in fields) {
      password ??= fields[key];
      delete fields[key];
    }
  }
  return password ?? '';
}

function stripLineEnd(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

function parseKeepalive(text: string): Keepalive | Invalid {
  const { fields } = splitFields(stripLineEnd(text));
  const count = fields.req ?? '';
  if (!/^-?\d{1,20}$/.test(count)) return { kind: 'invalid', reason: 'keepalive without a numeric req count' };
  delete fields.req;
  const password = takePassword(fields);
  const id = fields.id ?? '';
  if (id === '') return { kind: 'invalid', reason: 'keepalive without id' };
  return {
    kind: 'keepalive',
    count,
    id,
    password,
    num: fields.num ?? '',
    signal: toNumberOrNull(fields.signal),
    gsmStatus: fields.gsm_status ?? '',
    voipStatus: fields.voip_status ?? '',
    imei: fields.imei ?? '',
    imsi: fields.imsi ?? '',
    iccid: fields.iccid ?? '',
    carrier: fields.pro ?? '',
    fields,
  };
}

function parseReport(verb: string, reportId: string, body: string): Report | Invalid {
  const definition = definitionFor(verb);
  const tail = definition.tailKey;
  const { fields, positional } = splitFields(tail === undefined ? stripLineEnd(body) : body, {
    tailKeys: TAIL_KEYS.get(verb),
  });
  // The specification's CELLS form is positional (docs/protocol.md#cell-reports): `CELLS:$recv_id;$id;$password;$cell_list`.
  if (!('id' in fields) && positional.length >= 2) {
    fields.id = positional[0];
    fields.password = positional[1];
    if (definition.positionalKey !== undefined && positional.length > 2) {
      fields[definition.positionalKey] = positional.slice(2).join(';');
    }
  }
  const password = takePassword(fields);
  const id = fields.id ?? '';
  if (id === '') return { kind: 'invalid', reason: `${verb} without id` };
  definition.normalize?.(fields);
  return { kind: 'report', verb, reportId, id, password, fields };
}

export function parseDeviceMessage(text: string): DeviceMessage {
  if (text.startsWith('req:')) return parseKeepalive(text);
  const report = REPORT_HEAD.exec(text);
  if (report !== null) {
    const [head, verb, id] = report;
    if (verb === 'GSM') {
      const { fields } = splitFields(stripLineEnd(text.slice(head.length)));
      return { kind: 'gsm', sendId: id, fields };
    }
    return parseReport(verb, id, text.slice(head.length));
  }
  const reply = REPLY_HEAD.exec(text);
  if (reply !== null) {
    const [head, verb, sendId] = reply;
    const rest = stripLineEnd(text.slice(head.length));
    return { kind: 'reply', verb, sendId, rest, args: rest === '' ? [] : rest.split(' ') };
  }
  return { kind: 'invalid', reason: 'not a GoIP message' };
}

// ---- device-side formatting (simulator, tests) ----

function fieldText(fields: Fields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}:${v};`)
    .join('');
}

export interface KeepaliveFields {
  count: number | string;
  id: string;
  password: string;
  /** Further fields in wire order (num, signal, gsm_status, ...). */
  fields?: Fields;
}

export function formatKeepalive(k: KeepaliveFields): string {
  return `req:${k.count};id:${k.id};pass:${k.password};${fieldText(k.fields ?? {})}`;
}

/**
 * `VERB:$id;id:..;password:..;k:v...`. The verb's tail field goes last without a trailing `;`, as
 * real firmware sends `msg:`. `passwordKey` 'pass' spells the password as the
 * specification's RECEIVE example does (docs/protocol.md#firmware-variants-we-handle).
 */
export function formatReport(
  verb: string,
  reportId: number | string,
  id: string,
  password: string,
  fields: Fields = {},
  passwordKey: 'password' | 'pass' = 'password',
): string {
  const tail = definitionFor(verb).tailKey;
  const { count, ...rest } = fields;
  const head = verb === 'AT' && count !== undefined ? `${verb}:${reportId};count:${count};` : `${verb}:${reportId};`;
  const body = fieldText(Object.fromEntries(Object.entries(verb === 'AT' ? rest : fields).filter(([k]) => k !== tail)));
  const tailText = tail !== undefined && tail in fields ? `${tail}:${fields[tail]}` : '';
  return `${head}id:${id};${passwordKey}:${password};${body}${tailText}`;
}

/** `VERB $sendid args...\n` as the device answers a request. */
export function formatReply(verb: string, sendId: number | string, ...args: Array<string | number>): string {
  return [verb, String(sendId), ...args.map(String)].join(' ') + '\n';
}

export function formatGsmReply(sendId: number | string, fields: Fields): string {
  return `GSM:${sendId};${Object.entries(fields)
    .map(([k, v]) => `${k}:${v}`)
    .join(';')}`;
}
