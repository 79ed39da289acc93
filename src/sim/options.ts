/** Options, per-line state, events and the context the parts of a line share. */
import type { Fields } from '../protocol';
import type { FaultOptions } from './faults';
import type { Ledger, SentSms } from './ledger';
import { hashString } from './prng';
import type { Timers } from './timers';

export type Firmware = 'new' | 'old';

/** A USSD answer: text (sent as `USSD $sendid text`) or a failure (`USSDERROR $sendid error`). */
export type UssdReply = string | { error: string };

export interface ServerAddress {
  host: string;
  port: number;
}

export interface SimLineOptions {
  id: string;
  password: string;
  server: ServerAddress;
  /** Local address to bind, default 127.0.0.1. */
  bindAddress?: string;
  /** Local port, default 0 (ephemeral). */
  bindPort?: number;
  /** Default 30 000 ms. */
  keepaliveIntervalMs?: number;
  /** `reg:` status that means registered, default '0' (the specification; vendor servers use 200: docs/protocol.md#registration-ack). */
  okStatus?: string;
  /** 'old': keepalive stops after `signal:`, bulk `OK` carries no sms_no. Default 'new'. */
  firmware?: Firmware;

  // Identity, as the keepalive reports it.
  num?: string;
  /** AT+CSQ 0-31 (99 unknown), default 25. */
  signal?: number;
  /** LOGIN or LOGOUT; LOGOUT also refuses bulk sessions with GSM_LOGOUT. */
  gsmStatus?: string;
  voipStatus?: string;
  imei?: string;
  imsi?: string;
  iccid?: string;
  /** Carrier name, the keepalive's `pro:`. */
  carrier?: string;
  /** Appended to the keepalive after the known fields (idle, disable_status, CELLINFO, ...). */
  extraKeepaliveFields?: Fields;

  // Reports (RECEIVE, DELIVER, ...).
  /**
   * The key reports carry the password under: real firmware 'password', the specification's
   * example 'pass' (docs/protocol.md#firmware-variants-we-handle).
   */
  reportPasswordKey?: 'password' | 'pass';
  /** First report id; ids count down from it. Default: the current Unix time in seconds. */
  reportIdStart?: number;
  /** Default 3000 ms. */
  receiveRetryMs?: number;
  /** Resends after the first try, default 3. */
  receiveRetries?: number;

  // Bulk send.
  /** Time the module needs to send one SMS, default 3000 ms. */
  smsRadioTimeMs?: number;
  /** Concurrent bulk sessions, default 5. */
  maxSessions?: number;
  /** A session without traffic for this long is dropped, default 90 000 ms. */
  sessionExpiryMs?: number;
  /** telids per session whose state the line remembers, default 10. */
  telidMemory?: number;
  /** Ignore every bulk-session datagram (MSG, PASSWORD, SEND, DONE): a line that registers and keeps alive but never sends. */
  muteBulk?: boolean;
  /** Numbers the radio fails to send to (`ERROR $sendid $telid errorstatus:1`). */
  failNumbers?: ReadonlySet<string> | ((number: string) => boolean);
  /** Delay of the DELIVER report after each successful send; null (default) = none. */
  deliveryReportAfterMs?: number | null;
  /** TP-Status the DELIVER report carries, default 0 (delivered). */
  deliveryState?: number | ((number: string) => number);

  // Control commands.
  expTime?: number;
  remainTime?: number;
  /** get_gsm_state answer, default IDLE. */
  gsmState?: string;
  outCallInterval?: number;
  /** 7 (default, real firmware) or 4 (the specification's form) fields in the GSM reply (docs/protocol.md#gsm-all-in-one). */
  gsmReplyFields?: 4 | 7;
  /** Answer CF with CFERROR instead of CFOK. */
  cfError?: boolean;
  /** USSD code -> answer. Unknown codes get the literal `USSD send failed!`. */
  ussdReplies?: Readonly<Record<string, UssdReply>>;
  /** Time the network takes to answer a USSD code, default 1000 ms. */
  ussdDelayMs?: number;
  /** Cell list the CELLS report carries after get_cells_list. */
  cells?: readonly string[];
  /** CURCELL answer (set_base_cell changes it). */
  currentCell?: string;
  /** Delay of the CELLS report after get_cells_list, default 1000 ms. */
  cellsDelayMs?: number;
  /** AT command -> the module's answer lines (default: `OK`). */
  atReplies?: Readonly<Record<string, readonly string[]>>;
  /** An AT session without ATALIVE for this long is closed, default 60 000 ms. */
  atSessionTimeoutMs?: number;
  /** Command replies remembered per line for retransmitted sendids, default 64. */
  commandMemory?: number;

  faults?: FaultOptions;
  /** Shared ledger; default a new one per line. */
  ledger?: Ledger;
}

/** The line's mutable device state: what keepalives report and commands read or change. */
export interface LineState {
  num: string;
  signal: number;
  gsmStatus: string;
  voipStatus: string;
  imei: string;
  imsi: string;
  iccid: string;
  carrier: string;
  expTime: number;
  remainTime: number;
  gsmState: string;
  outCallInterval: number;
  moduleDown: boolean;
  currentCell: string;
  cells: string[];
}

export const DEFAULT_USSD_REPLIES: Readonly<Record<string, UssdReply>> = { '*100#': 'Your balance is 12.34' };

export interface ResolvedOptions {
  id: string;
  password: string;
  server: ServerAddress;
  bindAddress: string;
  bindPort: number;
  keepaliveIntervalMs: number;
  okStatus: string;
  firmware: Firmware;
  extraKeepaliveFields: Fields;
  reportPasswordKey: 'password' | 'pass';
  reportIdStart: number;
  receiveRetryMs: number;
  receiveRetries: number;
  smsRadioTimeMs: number;
  maxSessions: number;
  sessionExpiryMs: number;
  telidMemory: number;
  muteBulk: boolean;
  fails: (number: string) => boolean;
  deliveryReportAfterMs: number | null;
  deliveryState: (number: string) => number;
  gsmReplyFields: 4 | 7;
  cfError: boolean;
  ussdReplies: Readonly<Record<string, UssdReply>>;
  ussdDelayMs: number;
  cellsDelayMs: number;
  atReplies: Readonly<Record<string, readonly string[]>>;
  atSessionTimeoutMs: number;
  commandMemory: number;
  faults: FaultOptions | undefined;
}

/** `count` decimal digits that stay the same for one line id. */
function stableDigits(id: string, salt: string, count: number): string {
  let digits = '';
  let seed = hashString(salt + id);
  while (digits.length < count) {
    seed = Math.imul(seed ^ (seed >>> 13), 0x5bd1e995) >>> 0;
    digits += String(seed % 10);
  }
  return digits;
}

export function resolveOptions(o: SimLineOptions): ResolvedOptions {
  const failNumbers = o.failNumbers;
  const deliveryState = o.deliveryState ?? 0;
  return {
    id: o.id,
    password: o.password,
    server: o.server,
    bindAddress: o.bindAddress ?? '127.0.0.1',
    bindPort: o.bindPort ?? 0,
    keepaliveIntervalMs: o.keepaliveIntervalMs ?? 30_000,
    okStatus: o.okStatus ?? '0',
    firmware: o.firmware ?? 'new',
    extraKeepaliveFields: o.extraKeepaliveFields ?? {},
    reportPasswordKey: o.reportPasswordKey ?? 'password',
    reportIdStart: o.reportIdStart ?? Math.floor(Date.now() / 1000),
    receiveRetryMs: o.receiveRetryMs ?? 3000,
    receiveRetries: o.receiveRetries ?? 3,
    smsRadioTimeMs: o.smsRadioTimeMs ?? 3000,
    maxSessions: o.maxSessions ?? 5,
    sessionExpiryMs: o.sessionExpiryMs ?? 90_000,
    telidMemory: o.telidMemory ?? 10,
    muteBulk: o.muteBulk ?? false,
    fails: failNumbers === undefined ? () => false : typeof failNumbers === 'function' ? failNumbers : (n) => failNumbers.has(n),
    deliveryReportAfterMs: o.deliveryReportAfterMs ?? null,
    deliveryState: typeof deliveryState === 'function' ? deliveryState : () => deliveryState,
    gsmReplyFields: o.gsmReplyFields ?? 7,
    cfError: o.cfError ?? false,
    ussdReplies: o.ussdReplies ?? DEFAULT_USSD_REPLIES,
    ussdDelayMs: o.ussdDelayMs ?? 1000,
    cellsDelayMs: o.cellsDelayMs ?? 1000,
    atReplies: o.atReplies ?? {},
    atSessionTimeoutMs: o.atSessionTimeoutMs ?? 60_000,
    commandMemory: o.commandMemory ?? 64,
    faults: o.faults,
  };
}

export function initialState(o: SimLineOptions): LineState {
  return {
    num: o.num ?? '',
    signal: o.signal ?? 25,
    gsmStatus: o.gsmStatus ?? 'LOGIN',
    voipStatus: o.voipStatus ?? 'LOGOUT',
    imei: o.imei ?? `86${stableDigits(o.id, 'imei', 13)}`,
    imsi: o.imsi ?? `46000${stableDigits(o.id, 'imsi', 10)}`,
    iccid: o.iccid ?? `898600${stableDigits(o.id, 'iccid', 14)}`,
    carrier: o.carrier ?? 'CHINA MOBILE',
    expTime: o.expTime ?? 0,
    remainTime: o.remainTime ?? 0,
    gsmState: o.gsmState ?? 'IDLE',
    outCallInterval: o.outCallInterval ?? 0,
    moduleDown: false,
    currentCell: o.currentCell ?? '5E5B',
    cells: [...(o.cells ?? ['689', '638', '783', '785', '640'])],
  };
}

export interface ReportResult {
  verb: string;
  /** As sent: a signed decimal. */
  reportId: string;
  /** The server answered `VERB $id OK`. */
  acked: boolean;
  /** Datagrams sent for this report (1 + resends). */
  attempts: number;
  /** The server's `VERB $id ERROR $errmsg` text. */
  error?: string;
}

export interface FailedSms {
  line: string;
  number: string;
  sendId: number;
  telId: number;
  at: number;
}

export interface SimLineEvents {
  /** A keepalive ack with the ok status arrived while the line was not registered. */
  registered: [count: string];
  /** A keepalive ack with another status. */
  rejected: [status: string];
  /** The radio sent an SMS (also in the ledger). */
  smsSent: [SentSms];
  smsFailed: [FailedSms];
  /** A report was acked, refused or given up. */
  report: [ReportResult];
  /** A control command was answered; `repeated` when a retransmission was answered from memory. */
  command: [name: string, sendId: number, reply: string, repeated: boolean];
  /** A bulk session ended: DONE from the server, or silence for sessionExpiryMs. */
  sessionClosed: [sendId: number, reason: 'done' | 'expired'];
  /** Every datagram the line sends (before faults) and accepts (after faults and the source check). */
  datagramOut: [text: string];
  datagramIn: [text: string];
  /** A datagram from an address that is not the configured server (ignored). */
  stray: [text: string, address: string, port: number];
  /** A socket error after start (never thrown). */
  socketError: [Error];
}

/** What the parts of a line (reports, bulk sessions, commands) share. */
export interface LineContext {
  readonly options: ResolvedOptions;
  readonly state: LineState;
  readonly timers: Timers;
  readonly ledger: Ledger;
  send(text: string): void;
  /** Sends a device report through the ack/resend mechanism. */
  report(verb: string, fields: Fields): Promise<ReportResult>;
  emit<K extends keyof SimLineEvents>(event: K, ...args: SimLineEvents[K]): void;
}
