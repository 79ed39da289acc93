/** What the bulk-send engine reports: its events and its progress figures. */
import type { Recipient } from '../../outbox/types';
import type { LineHealthEvent } from './fleet-hooks';

export interface BulkProgress {
  /** Final results since start(). */
  sent: number;
  failed: number;
  /** Queued numbers whose expiry passed before they went on the air. */
  expired: number;
  /** Numbers handed back to the queue for another line. */
  requeued: number;
  /** Results that came for a number no longer waiting for one (late or duplicated replies). */
  lateResults: number;
  sessions: number;
  /** Claimed numbers not final yet. */
  inFlight: number;
  parkedLines: number;
}

export interface BulkSenderEvents {
  /** A recipient reached a final state (sent, failed or expired); once per recipient. */
  result: [Recipient];
  /** Something changed (a result, a requeue, a session, a parked line). */
  progress: [BulkProgress];
  /** The store or the engine failed on one step; the engine carries on. */
  warning: [Error];
  /** A line left bulk handshakes unanswered or failed SMS in a row: it takes no numbers until `until`, then is probed. */
  quarantine: [LineHealthEvent];
  /** A quarantined line answered its probe: it takes numbers again. */
  recovered: [LineHealthEvent];
}
