/**
 * What the bulk-send engine is given and what it tells: every timing and limit (defaults follow
 * the protocol, docs/protocol.md#timings, and the vendor server); what it asks of the fleet around
 * it (the line policy, the routing groups a line may take, lines held back on low balance); its
 * events and progress figures.
 */
import type { Recipient } from '../outbox/types';
import { mergeNumericOptions } from '../util/options';

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

/**
 * The order the engine offers lines new sessions in (goip-config `linePolicy`); lines/policy.ts's
 * LineOrder keeps it.
 */
export type LinePolicy = 'spread' | 'roundrobin' | 'random' | 'leastUsed';

export const LINE_POLICIES: readonly LinePolicy[] = ['spread', 'roundrobin', 'random', 'leastUsed'];

/** Why a line was quarantined: bulk handshakes left unanswered, or SMS failed in a row. */
export type QuarantineReason = 'handshake' | 'errors';

export interface FleetHooks {
  linePolicy: LinePolicy;
  /** Uniform in [0, 1): line choice (random) and sendJitter. Tests pin it. */
  random: () => number;
  /** The routing groups whose recipients `line` may take ('' = no group); undefined = any. */
  groupsOf: (line: string) => readonly string[] | undefined;
  /** The groups with a configured line (queued recipients of any other group fail); undefined = no groups. */
  routableGroups: () => readonly string[] | undefined;
  /** The line takes no new numbers for a reason of the fleet's (parked on low balance). */
  held: (line: string) => boolean;
}

export const DEFAULT_FLEET_HOOKS: Readonly<FleetHooks> = {
  linePolicy: 'spread',
  random: Math.random,
  groupsOf: () => undefined,
  routableGroups: () => undefined,
  held: () => false,
};

/** `quarantine` / `recovered` of a line. */
export interface LineHealthEvent {
  line: string;
  reason: QuarantineReason;
  /** When a quarantine ends (the line is probed then); absent on `recovered`. */
  until?: number;
}

export interface BulkOptions {
  /** The longest wait before a step (MSG, PASSWORD, SEND, DONE) without any answer is sent again. */
  stepTimeoutMs: number;
  /**
   * A step counts as unanswered after stepTimeoutMs x (stepRetries + 1) without an answer. Within
   * that time it is resent after the line's measured round-trip timeout, doubled per resend
   * (at least minRetransmitMs, at most stepTimeoutMs). A WAIT ends the step.
   */
  stepRetries: number;
  /** The shortest resend delay, however short the measured round trip. */
  minRetransmitMs: number;
  /** The resend delay while no round trip to any line is measured yet (RFC 6298: 1 s). */
  initialRetransmitMs: number;
  /**
   * After WAIT the engine waits for the pushed OK/ERROR and re-asks the same telid only after this
   * much silence (resending while the device waits has produced duplicate SMS on some firmware).
   * Must stay below the device's 90 s session expiry.
   */
  waitRecheckMs: number;
  /**
   * An accepted number that is the next on its line's radio is re-asked once its result is this
   * many times the line's slowest recent SMS (measured from the line's pushed results) overdue:
   * the pushed result was lost. A WAIT answer (still sending) falls back to waitRecheckMs.
   * 0 = re-ask only after waitRecheckMs of silence.
   */
  overdueFactor: number;
  /** An accepted number still without OK/ERROR after this long fails: it may have gone out. */
  acceptedTimeoutMs: number;
  /** Lines a number is tried on (failover after silence or a radio error) before it fails. */
  maxAttempts: number;
  /** Concurrent sessions per line (the device allows 5), so the radio always has a next number. */
  sessionsPerLine: number;
  /** Numbers per session; then DONE and a fresh session. */
  numbersPerSession: number;
  /** Least time between two new numbers on one line; 0 = none. */
  minIntervalMs: number;
  /** SMS per line per local calendar day; 0 = no limit. */
  dailyLimit: number;
  /** A random extra 0..jitterMs between two new numbers of a line, beside minIntervalMs (anti-blocking); 0 = none. */
  jitterMs: number;
  /** SMS per line in any 60 minutes (rolling, survives a restart); 0 = no limit. */
  hourlyLimit: number;
  /** A line that leaves bulk handshakes unanswered or fails SMS in a row takes no numbers this long, then is probed. */
  quarantineMs: number;
  /** Radio failures (errorstatus) in a row that quarantine a line. */
  quarantineAfterErrors: number;
  /** Unanswered bulk handshakes (MSG or PASSWORD) in a row that quarantine a line. */
  quarantineAfterHandshakes: number;
  /** Delivery reports are matched to sends of the same line and sms_no this recent. */
  deliveryWindowMs: number;
  /** After `too_many_sends_in_server` the session asks the line again after this long. */
  busyRetryMs: number;
  /** ... and the line keeps its reduced session count this long. */
  busyCooldownMs: number;
  /** A line that refused the password is left alone this long, then tried again. */
  passwordParkMs: number;
  /** Quiet hours (lines/policy.ts): start, minutes after local midnight ... */
  quietFromMinute: number;
  /** ... and length in minutes; 0 = none. Inside them only high priority starts a SEND. */
  quietMinutes: number;
}

export const DEFAULT_BULK_OPTIONS: Readonly<BulkOptions> = {
  stepTimeoutMs: 5000,
  stepRetries: 3,
  minRetransmitMs: 500,
  initialRetransmitMs: 1000,
  waitRecheckMs: 30_000,
  overdueFactor: 1.5,
  acceptedTimeoutMs: 600_000,
  maxAttempts: 3,
  sessionsPerLine: 2,
  numbersPerSession: 100,
  minIntervalMs: 0,
  dailyLimit: 0,
  jitterMs: 0,
  hourlyLimit: 0,
  quarantineMs: 300_000,
  quarantineAfterErrors: 10,
  quarantineAfterHandshakes: 3,
  deliveryWindowMs: 6 * 3600_000,
  busyRetryMs: 15_000,
  busyCooldownMs: 120_000,
  passwordParkMs: 600_000,
  quietFromMinute: 0,
  quietMinutes: 0,
};

/** The most bulk sessions a GoIP line runs at once (docs/protocol.md#device-session-limits). */
export const DEVICE_MAX_SESSIONS = 5;

export function resolveBulkOptions(options: Partial<BulkOptions> = {}): BulkOptions {
  const resolved = mergeNumericOptions<BulkOptions>(DEFAULT_BULK_OPTIONS, options, 'bulk');
  resolved.sessionsPerLine = Math.min(DEVICE_MAX_SESSIONS, Math.max(1, Math.floor(resolved.sessionsPerLine)));
  resolved.numbersPerSession = Math.max(1, Math.floor(resolved.numbersPerSession));
  resolved.maxAttempts = Math.max(1, Math.floor(resolved.maxAttempts));
  resolved.stepRetries = Math.floor(resolved.stepRetries);
  resolved.quarantineAfterErrors = Math.max(1, Math.floor(resolved.quarantineAfterErrors));
  resolved.quarantineAfterHandshakes = Math.max(1, Math.floor(resolved.quarantineAfterHandshakes));
  return resolved;
}
