/** GoipGateway's options, status and events. */
import type { AddressInfo } from 'node:net';
import type { GatewayStore } from '../outbox/store-ports';
import type { Outbox } from '../outbox/types';
import type { GoipEvent, GoipServerOptions } from '../link';
import type { BulkOptions } from '../outbound';
import type { CommandOptions } from '../link/commands';
import type { BindError } from '../link/udp-endpoint';
import type { FleetOptions } from './fleet';

export interface GoipGatewayOptions {
  server: GoipServerOptions;
  commands?: Partial<CommandOptions>;
  sending?: Partial<BulkOptions>;
  /** Routing groups, line policy, balance and number checks. */
  fleet?: FleetOptions;
  /**
   * The durable store: a SQLite file (`:memory:` keeps it in memory), an Outbox or a GatewayStore
   * (the shared PostgreSQL one: src/outbox/postgres/pg-store.ts) the gateway then owns (and
   * closes), or null/absent: sending unavailable (see GoipGateway.sendingError).
   */
  store?: string | Outbox | GatewayStore | null;
  /** First wait before binding again after a bind failure that may pass (port in use, ...), default 1 s. */
  bindRetryMs?: number;
  /** The wait doubles per failure up to this, default 30 s. */
  maxBindRetryMs?: number;
  /** Least time between two warnings of one source, default 10 s: repeated troubles do not flood. */
  warningIntervalMs?: number;
  /** Join long SMS that arrive part by part (src/gateway/parts), default true. */
  joinParts?: boolean;
  /** How long a full part waits for the next one from its line and sender, default 60 s. */
  joinWindowMs?: number;
  /** The operator's queue: opt-out keywords and retention. */
  queue?: QueueOptions;
  /**
   * Store every received SMS and delivery report before its ack (src/gateway/inbox), default true;
   * needs a store. False acks them on arrival and keeps them in memory only.
   */
  inbox?: boolean;
  /** msg.goip.inReplyTo: the last SMS sent to the sender within this window, default 168 h; 0 = off. */
  replyWindowMs?: number;
}

export interface QueueOptions {
  /** Whole-text keywords (any case) that block their sender; default STOP, UNSUBSCRIBE, 退订, TD. */
  optOut?: readonly string[];
  /** ... and that unblock it; default START. */
  optIn?: readonly string[];
  /** Final recipients older than this are purged; default 30 days, 0 = never. */
  retentionMs?: number;
}

export type GatewayStatus =
  /** Not started yet, or stopped. */
  | { state: 'idle' }
  | { state: 'starting' }
  /** The store does not answer yet (a PostgreSQL down or refusing): tried again, the socket waits. */
  | { state: 'waiting-store'; error: Error; retryInMs: number }
  /**
   * `storeError`: a shared store stopped answering (sends pause; tried again by itself).
   * `inboxError`: the store cannot write, so received SMS are not acked (the GoIP resends them).
   */
  | { state: 'listening'; address: AddressInfo; online: number; lines: number; storeError?: Error; inboxError?: Error }
  /** The bind failed for a reason that may pass (port in use, address not up yet); it is tried again. */
  | { state: 'retrying'; error: BindError; retryInMs: number }
  /** The bind failed for good (an unresolvable address, ...). */
  | { state: 'failed'; error: Error };

export type WarningSource =
  | 'socket'
  | 'commands'
  | 'sending'
  | 'status-reports'
  /** A balance or number check by USSD failed or read nothing. */
  | 'fleet'
  /** A listener of the server's or the gateway's events threw; the others still got the event. */
  | 'listener'
  /** Stopping the send engine or the commands failed (the socket closes all the same). */
  | 'stop'
  /** Holding a part of a long SMS in the store failed: it went out at once, unjoined. */
  | 'parts'
  /** The inbox could not store received messages, or commit what the flow took. */
  | 'inbox'
  /** A shared store did not answer a renewal of this instance's lines. */
  | 'store';

export interface GatewayWarning {
  source: WarningSource;
  error: Error;
}

export interface GoipGatewayEvents {
  /**
   * Every device event: sms, delivery (complete: messageId correlated to the send), state, ...,
   * at, keepalive, online, offline. One object per event, shared by all listeners: do not mutate.
   */
  event: [GoipEvent];
  /** The status changed: starting, listening, lines online, retrying and why, failed. */
  status: [GatewayStatus];
  /** Rate-limited per source (warningIntervalMs); the gateway carries on. */
  warning: [GatewayWarning];
}
