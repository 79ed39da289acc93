/** The GoipServer's options, events and counters: what its users (bulk sender, commands, gateway) see. */
import type { DeliveryStatus, Fields, GsmReply, Reply } from '../protocol';

export interface DeviceCredential {
  id: string;
  password: string;
}

export interface GoipServerOptions {
  /** Address to bind, default 0.0.0.0 (an IPv6 address binds udp6). */
  bind?: string;
  /** UDP port, default 44444; 0 picks a free one. */
  port?: number;
  /** The lines allowed to register. */
  devices: readonly DeviceCredential[];
  /** Keepalive ok-code sent in `reg:N;status:X;` (0 per docs/protocol.md#registration-ack; vendor servers send 200). */
  ackStatus?: string;
  /** Keepalive code for an unknown id or a wrong password; default 404 beside 200, else 1. */
  rejectStatus?: string;
  /** Silence after which a line is offline, default 92 s (the vendor's figure). */
  offlineAfterMs?: number;
  /** How long a report id is remembered for de-duplication, default 10 min (devices resend for ~12 s). */
  dedupWindowMs?: number;
  /** Remembered report ids per line at most, default 1024 (devices resend within ~12 s). */
  dedupMaxEntries?: number;
  /** Least interval between two rejection replies to one source address, default 1 s. */
  rejectReplyIntervalMs?: number;
  /** Socket receive buffer asked of the OS (capped by it), default 4 MiB: bursts from many lines queue there. */
  receiveBufferBytes?: number;
}

export type ResolvedServerOptions = Required<Omit<GoipServerOptions, 'devices'>>;

export function resolveServerOptions(options: GoipServerOptions): ResolvedServerOptions {
  const ackStatus = options.ackStatus ?? '0';
  return {
    bind: options.bind ?? '0.0.0.0',
    port: options.port ?? 44444,
    ackStatus,
    rejectStatus: options.rejectStatus ?? (ackStatus === '200' ? '404' : '1'),
    offlineAfterMs: options.offlineAfterMs ?? 92_000,
    dedupWindowMs: options.dedupWindowMs ?? 600_000,
    dedupMaxEntries: options.dedupMaxEntries ?? 1024,
    rejectReplyIntervalMs: options.rejectReplyIntervalMs ?? 1000,
    receiveBufferBytes: options.receiveBufferBytes ?? 4 * 1024 * 1024,
  };
}

export interface GoipEvent {
  /** goip-in event name: sms, delivery, state, ..., keepalive, online, offline. */
  event: string;
  line: string;
  payload: unknown;
  /** Every parsed field (password removed) plus the report's verb and id. */
  fields: Fields;
  /** Sender of an SMS. */
  from?: string;
  receivedAt: number;
  /** An `sms` from the gateway: how many received parts it joins (1 when it came whole). */
  parts?: number;
  /** An `sms` from the gateway: the report id of each of its parts, in order. */
  reportIds?: string[];
  /** Its row in the gateway's inbox (stable across emissions). */
  inboxId?: number;
  /** An `sms` with the inbox on: the last SMS sent to its sender within the reply window. */
  inReplyTo?: ReplyTo;
  /** A report whose ack waits for its consumer (GoipServer.deferAcks); never serialised. */
  receipt?: ReportReceipt;
}

export interface ReplyTo {
  messageId: string;
  batchId: string;
  /** ISO 8601. */
  sentAt: string;
  line: string | null;
}

/**
 * How the consumer of a report whose ack was deferred answers it: ack() once the report is stored
 * (the ack goes out), refuse() when it could not be (no ack: the device resends it, and the resend
 * is processed as new). The first call counts.
 */
export interface ReportReceipt {
  /** The report's de-duplication key, stored with it so a resend after a restart is known. */
  readonly key: number;
  ack(): void;
  refuse(): void;
}

/** Payload of a `delivery` event. The server's own (a DELIVER report as it came) has messageId null. */
export interface DeliveryPayload {
  to: string;
  /** GSM 03.40 TP-Status, null when absent. */
  state: number | null;
  status: DeliveryStatus;
  smsNo: number | null;
  /** The outbound message the report belongs to, null unknown. */
  messageId: string | null;
}

/**
 * Finds the outbound message a delivery report of `line` belongs to (by sms_no and recency) and
 * returns its messageId, or null. Called once per report (never for a resent duplicate).
 */
export type DeliveryCorrelator = (line: string, delivery: Readonly<DeliveryPayload>) => Promise<string | null>;

export interface ServerCounters {
  datagrams: number;
  invalid: number;
  rejected: number;
  duplicates: number;
  emitted: number;
  /** Replies from an address no line registered. */
  strayReplies: number;
  /** Socket errors after start (send failures among them). */
  sendErrors: number;
  /** Listeners that threw while the server told them something (caught, see 'listenerError'). */
  listenerErrors: number;
}

export interface GoipServerEvents {
  event: [GoipEvent];
  /** A reply to a server request (bulk session step or command) from a registered line. */
  reply: [line: string, reply: Reply | GsmReply];
  /** Lines went online or offline. */
  lines: [];
  /** A socket error after start (never thrown). */
  socketError: [Error];
  /** Every datagram the server sends, for tracing and tests. */
  datagramOut: [text: string, address: string, port: number];
  /** A listener of `event` threw; the server, its acks and the other listeners carried on. */
  listenerError: [error: Error, event: string];
  /** A report was acked, `seconds` after its datagram was read (the metrics' goip_report_ack_seconds). */
  reportAcked: [line: string, verb: string, seconds: number];
}
