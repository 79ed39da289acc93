/**
 * Every interface of the store: the durable outbound queue as the bulk-send engine and the
 * goip-send node see it, the results the flow takes, the held parts and the inbox. One
 * implementation (SQLite, ./sqlite-outbox.ts, on better-sqlite3 or node:sqlite); the send engine
 * never touches SQL and sees the store only through its asynchronous port, SendStore.
 *
 * Life of a recipient: queued -> claimed (line + sendId + telId committed BEFORE the SEND leaves)
 * -> sent (smsNo) | failed (reason) | queued again (failover, the line added to excludedLines)
 * -> delivered/undeliverable later by a delivery report. A queued one may also end expired (its
 * expiresAt passed), cancelled (by the operator) or blocked (its number opted out): never on the air.
 */
import type { GoipEvent } from '../link/server-types';

export type RecipientState = 'queued' | 'claimed' | 'sent' | 'failed' | 'expired' | 'cancelled' | 'blocked';

/** Claim order: every queued high recipient a line may send goes before normal ones, normal before low. */
export type Priority = 'high' | 'normal' | 'low';
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];

/** The longest a number keeps to its line (goip-send `stickyDays`); older pairs are purged. */
export const MAX_STICKY_DAYS = 365;
/** How long a store keeps a number's last line: the longest a number may keep to it. */
export const NUMBER_LINES_KEPT_MS = MAX_STICKY_DAYS * 86_400_000;

export interface NewBatch {
  batchId: string;
  text: string;
  /** Only this line may send it; null = any line. */
  line: string | null;
  /** goip-send node that gets the results. */
  nodeId: string;
  /** Small JSON-able bits of the input msg to restore on results (_msgid, topic). */
  meta: Record<string, unknown>;
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
  /**
   * `group`: the routing group whose lines may send it (absent or '' = the lines in no group).
   * `text`, `segments`, `encoding`: the recipient's own text of a personalised batch (absent: the
   * batch's). `error`: it cannot go (ends failed with this reason at once). `stickyMs`: it keeps to
   * the line that last sent to its number within this many ms, while that line may send.
   */
  recipients: Array<{
    messageId: string;
    number: string;
    group?: string;
    text?: string;
    segments?: number;
    encoding?: 'GSM-7' | 'UCS-2';
    error?: string;
    stickyMs?: number;
  }>;
  /** Default normal. */
  priority?: Priority;
  /** No SEND before this (ms epoch); null/absent = at once. */
  sendAt?: number | null;
  /** A recipient not claimed by then ends expired (ms epoch); null/absent = never. */
  expiresAt?: number | null;
}

export interface Recipient {
  messageId: string;
  batchId: string;
  /** Position in the batch (msg.parts.index). */
  index: number;
  /** Recipients in the batch (msg.parts.count). */
  count: number;
  number: string;
  text: string;
  /** Pinned line of the batch, null = any. */
  pinnedLine: string | null;
  nodeId: string;
  meta: Record<string, unknown>;
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
  state: RecipientState;
  line: string | null;
  sendId: number | null;
  telId: number | null;
  smsNo: number | null;
  error: string | null;
  /** Claims so far (each claim by a line is one attempt). */
  attempts: number;
  excludedLines: string[];
  /** Routing group whose lines may send it; '' = the lines in no group. */
  group: string;
  /** Delivery report: TP-Status and when it came (ms epoch), null before. */
  deliveryState: number | null;
  deliveredAt: number | null;
  updatedAt: number;
}

export interface Outbox {
  /**
   * Commits the batch and all its recipients in one transaction (durable when it returns).
   * Returns the recipients that ended at once: failed (their `error`), or blocked, their number on the block list.
   */
  enqueue(batch: NewBatch): Recipient[];
  /**
   * Claims up to `limit` queued recipients of ONE batch that `line` may send (not pinned
   * elsewhere, line not excluded, due, not expired, of priority `lowest` or higher, of one of
   * `groups` when given), highest priority first, then oldest, and records line/sendId/telIds
   * (telIds given in order) in the same transaction. Returns the claimed recipients (possibly
   * fewer, maybe none). With `batchId`, only that batch, and nothing while a recipient of higher
   * priority waits for the line (the session yields its line to it). `groups`: only recipients of
   * these routing groups (absent = any group). `text`: the session's; in a personalised batch only
   * recipients of that text (absent: of the first recipient's text), since a session carries one.
   * `available`: the lines that may send now; a sticky recipient whose number's line is another of
   * them waits for that line (absent: none is waited for).
   */
  claim(
    line: string, sendId: number, firstTelId: number, limit: number, batchId?: string, lowest?: Priority, groups?: readonly string[], text?: string,
    available?: readonly string[],
  ): Recipient[];
  /** The batch claim() would take from for `line` now (its id and the text its first claim has), without claiming; null when none. */
  nextBatch(line: string, groups?: readonly string[], lowest?: Priority): { batchId: string; text: string } | null;
  /** Fails every queued recipient whose routing group is not among `groups` (no configured line may send it). */
  failUnroutable(groups: readonly string[]): Recipient[];
  /** SMS `line` sent at or after `since` (ms epoch): the rolling hourly limit. */
  sentSince(line: string, since: number): number;
  /** Recipients claimed before a restart: resume them with the SAME line/sendId/telId. */
  claimedRecipients(): Recipient[];
  /**
   * Sent with `smsNo`; the line's count for `day` (YYYY-MM-DD, local) goes up in the same commit,
   * and the line becomes the number's line (sticky recipients keep to it).
   */
  markSent(messageId: string, smsNo: number | null, day: string): Recipient;
  markFailed(messageId: string, reason: string): Recipient;
  /**
   * Fails every queued recipient that none of `lines` (the lines configured now) may send: its
   * batch is pinned to a line not among them, or it has excluded all of them. Returns them.
   */
  failUnsendable(lines: readonly string[]): Recipient[];
  /** Back to queued, `line` excluded from now on; attempts kept. */
  requeue(messageId: string, excludeLine: string): Recipient;
  /** The recipient a delivery report of `line` with `smsNo` belongs to: the latest sent within `windowMs`. */
  correlateDelivery(line: string, smsNo: number, windowMs: number, now: number): Recipient | null;
  markDelivery(messageId: string, tpStatus: number, at: number): Recipient;
  /**
   * The recipient `line` sent to `number` (compared by sameNumber: `+86138...`, `86138...` and
   * `0138...` match) whose send time is nearest `at`, at most `windowMs` before or after it; null
   * when none. Status reports from the AT stream carry the number, not the sms_no.
   */
  findSentTo(line: string, number: string, at: number, windowMs: number): Recipient | null;
  /** Next sendId for the line, persisted so a restart never reuses a recent one. */
  nextSendId(line: string): number;
  /** SMS the line sent on `day` (YYYY-MM-DD, local). */
  sentToday(line: string, day: string): number;
  /** SMS each line sent on `day`; a line that sent none is absent. */
  sentByLineOn(day: string): ReadonlyMap<string, number>;
  queuedCount(): number;
  claimedCount(): number;
  get(messageId: string): Recipient | undefined;
  /** Recipients in a final state older than `olderThanMs` are deleted (the store stays small). */
  purge(olderThanMs: number, now: number): number;
  /** The operator's side of the queue: inspect, cancel, retry, block. */
  readonly queue: QueueControl;
  /** Which final results the flow has taken; the others are emitted again after a restart. */
  readonly results: ResultLog;
  /**
   * Runs `work` as ONE commit: every outbox call inside joins it, and it is durable when this
   * returns (rolled back if `work` throws). Many claims in one pass cost one fsync, not many.
   */
  transaction<T>(work: () => T): T;
  close(): void;
}

/** The calls of the outbox the send engine makes. */
type SendCalls = Pick<
  Outbox,
  | 'claim' | 'nextBatch' | 'nextSendId' | 'failUnroutable' | 'failUnsendable' | 'claimedRecipients'
  | 'markSent' | 'markFailed' | 'requeue' | 'get' | 'sentSince' | 'sentByLineOn' | 'queuedCount'
> &
  Pick<QueueControl, 'expireDue' | 'nextTimedAt'>;

/**
 * The send engine's store port: the outbox's calls as Promises, so that a store across the network
 * plugs in as well as the embedded one (./send-port.ts wraps a synchronous Outbox, resolving in the
 * same turn). Each call is atomic on its own. `durable()` resolves once every call that resolved
 * before it is on the disk: the engine's datagrams and results leave only after it.
 */
export type SendStore = Asynchronous<SendCalls> & {
  durable(): Promise<void>;
};

/** The calls of a store interface as Promises: a store across the network answers them later. */
export type Asynchronous<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : T[K] };

/**
 * A synchronous store whose calls may commit without waiting for the disk, synced later in one go
 * (the SQLite store: one fsync for a unit of work's many calls).
 */
export interface DeferredSync {
  /** Runs one call whose commit need not be on the disk yet. */
  unsynced<T>(work: () => T): T;
  /** Puts every commit made so far on the disk (returns once it is there). */
  syncNow(): void;
}

export function hasDeferredSync(store: object): store is DeferredSync {
  const candidate = store as Partial<DeferredSync>;
  return typeof candidate.unsynced === 'function' && typeof candidate.syncNow === 'function';
}

/** Recipient counts by state. */
export type StateCounts = Record<RecipientState, number>;

export interface BatchStatus extends StateCounts {
  batchId: string;
  priority: Priority;
  /** ms epoch, null = at once. */
  sendAt: number | null;
  createdAt: number;
  /** Recipients of the batch (msg.parts.count), including purged ones. */
  count: number;
}

export interface QueueStatus extends StateCounts {
  /** Recipients by the line that holds or sent them. */
  byLine: Record<string, StateCounts>;
  /** The batch asked for; else every batch with a recipient queued or claimed, oldest first. */
  batches: BatchStatus[];
}

/** Whom a cancel is for. */
export type QueueTarget = { batchId: string } | { messageId: string };

export interface CancelResult {
  /** Recipients that ended cancelled now. */
  cancelled: Recipient[];
  /** Recipients already handed to a line: they end as the line tells. */
  inFlight: number;
}

export interface BlockedNumber {
  number: string;
  /** The opt-out keyword that blocked it, null when blocked by hand. */
  keyword: string | null;
  /** The line the opt-out came in on, null when blocked by hand. */
  line: string | null;
  blockedAt: number;
}

export interface QueueControl {
  /** Counts for the store or one batch; null for an unknown batchId. */
  status(batchId?: string): QueueStatus | null;
  /** Queued recipients of the target end cancelled; null when the target is unknown. */
  cancel(target: QueueTarget): CancelResult | null;
  /**
   * The batch's failed and expired recipients are queued again as new attempts (no line excluded,
   * no expiry); null for an unknown batchId. Returns those that ended blocked at once and the count queued.
   */
  retry(batchId: string): { queued: number; blocked: Recipient[] } | null;
  /** Puts numbers on the block list (durably); queued recipients of theirs end blocked now and are returned. */
  block(numbers: readonly string[], source?: { keyword: string; line: string }): Recipient[];
  /** Takes numbers (compared by sameNumber) off the block list; returns how many entries went. */
  unblock(numbers: readonly string[]): number;
  blocked(): BlockedNumber[];
  /** Queued recipients whose expiresAt has passed end expired now; returns them. */
  expireDue(): Recipient[];
  /** The next time a queued recipient becomes due or expires (ms epoch), null when none is pending. */
  nextTimedAt(): number | null;
}

// ---- results the flow takes (result-log.ts) ----

/** Where a page of unreported results ended: pass it to get the next page. */
export interface ResultCursor {
  batchSeq: number;
  index: number;
}

export interface ResultPage {
  recipients: Recipient[];
  /** null when this was the last page. */
  next: ResultCursor | null;
}

export interface ResultLog {
  /** Final recipients of `nodeId` whose result was not taken, in batch order, after `after`. */
  unreported(nodeId: string, after: ResultCursor | null, limit: number): ResultPage;
  /** The flow took these results: they are not emitted again (one commit). */
  taken(messageIds: readonly string[]): void;
}

// ---- held parts of long received SMS (held-parts.ts) ----

export interface HeldPart {
  line: string;
  /** The sender (srcnum) the next part must come from. */
  from: string;
  /** The `sms` event of the part as the server published it. */
  event: GoipEvent;
  /** When it was held (ms epoch): the join window runs from the newest part of a chain. */
  heldAt: number;
}

export interface HeldPartStore {
  /** Whether held parts survive a restart. */
  readonly durable: boolean;
  /** Every held part, in the order they were held. */
  all(): HeldPart[];
  /** Durable when it returns. */
  hold(part: HeldPart): void;
  /** Forgets every part held for this line and sender. */
  release(line: string, from: string): void;
}

// ---- the inbox (inbox-log.ts, inbox-query.ts) ----

export type InboxKind = 'sms' | 'delivery';

export interface InboxRecord {
  kind: InboxKind;
  line: string;
  /** sms: the sender; delivery: the number the report is about. */
  sender: string;
  text: string;
  receivedAt: number;
  parts: number;
  messageId: string | null;
  status: string | null;
  event: GoipEvent;
  /** The server's de-duplication key of the report, null for a joined SMS or a decoded AT report. */
  reportKey: number | null;
  /** A goip-in gets it right after the commit. */
  handed: boolean;
}

/** A message a consumer has still to take. */
export interface UntakenMessage {
  inboxId: number;
  event: GoipEvent;
  /** It was handed out before: emitted again, it is a redelivery. */
  handed: boolean;
}

/** Which messages a consumer (a goip-in) accepts: null = any. */
export interface InboxFilter {
  kinds: readonly InboxKind[] | null;
  line: string | null;
}

/** The last SMS sent to a number (reply correlation). */
export interface SentTo {
  messageId: string;
  batchId: string;
  sentAt: number;
  line: string | null;
}

/** A stored report's line, de-duplication key and receive time. */
export interface RecentReport {
  line: string;
  key: number;
  at: number;
}

export interface InboxQuery {
  from?: string;
  line?: string;
  /** ms epoch, inclusive. */
  since?: number;
  /** ms epoch, exclusive. */
  until?: number;
  /** A substring of the text, any case. */
  text?: string;
  kind?: InboxKind;
  /** At most this many items. */
  limit: number;
  /** Only messages older than this inboxId (the cursor of the previous page). */
  before?: number;
}

export interface InboxRowOut {
  inbox_id: number;
  kind: InboxKind;
  line: string;
  sender: string;
  text: string;
  received_at: number;
  parts: number;
  message_id: string | null;
  status: string | null;
}

export interface InboxPage {
  rows: InboxRowOut[];
  /** The cursor of the next page, null on the last one. */
  next: string | null;
}

/** The inbox's rows as the gateway's inbox service uses them. */
export interface InboxLog {
  /** Stores one message (inside the caller's transaction) and returns its inboxId. */
  insert(record: InboxRecord): number;
  /** The de-duplication keys of the reports stored since `since`, oldest first. */
  recentReports(since: number, limit?: number): RecentReport[];
  /** What `nodeId` has still to take that `filter` accepts, in receive order, after `after`. */
  untaken(nodeId: string, filter: InboxFilter, after: number, limit: number): UntakenMessage[];
  /** The consumers that took their copy of one message. */
  takesOf(inboxId: number): string[];
  /** Messages taken by all their consumers (`done`) and copies taken by one of several (`partial`). */
  taken(done: readonly number[], partial: ReadonlyArray<{ inboxId: number; nodeId: string }>): void;
  query(query: InboxQuery): InboxPage;
  /** The last SMS sent to `number` since `since` (reply correlation). */
  lastSentTo(number: string, since: number): SentTo | null;
}

/** What one inbox commit writes, decided before any of it reaches the store (src/gateway/inbox). */
export interface InboxWrites {
  /** The messages in receive order: their inboxIds come back in this order. */
  records: InboxRecord[];
  /** Parts of long SMS held, and chains released (their parts forgotten), in the order decided. */
  held: Array<{ hold: HeldPart } | { release: { line: string; from: string } }>;
  /** The delivery state of each send a DELIVER report was for. */
  deliveries: Array<{ messageId: string; tpStatus: number; at: number }>;
  /** What the flow took since the last commit (InboxLog.taken). */
  takes: { done: number[]; partial: Array<{ inboxId: number; nodeId: string }> };
}

/** A commit's answer: the records' inboxIds, and why its sync failed (null: on the disk). */
export interface InboxCommit {
  inboxIds: number[];
  syncError: Error | null;
}

/**
 * The receive path's store port: a group commit's reads, then its writes in one transaction, as
 * Promises (the SQLite one, ./receive-port.ts, answers the reads in the same turn and commits
 * synchronously, its sync off the event loop).
 */
export interface ReceiveStore {
  /** For each ask, the last SMS sent to its number since its time (reply correlation): one read for a commit's SMS. */
  lastSentToEach(asks: ReadonlyArray<{ number: string; since: number }>): Promise<Array<SentTo | null>>;
  /** The messageId of `line`'s latest send with `smsNo` within `windowMs` before `now` (a DELIVER report's). */
  deliverySend(line: string, smsNo: number, windowMs: number, now: number): Promise<string | null>;
  /** The writes in one transaction; rejects when it did not commit. */
  commit(writes: InboxWrites): Promise<InboxCommit>;
}

/**
 * A store that also keeps the inbox and the held parts (the SQLite store does; a store without
 * them leaves the gateway receiving from memory).
 */
export interface ReceivingStore extends Outbox {
  inbox(): InboxLog;
  heldParts(): HeldPartStore;
  /** Runs `work` in one transaction (nested calls are savepoints); the disk has it when it returns. */
  transaction<T>(work: () => T): T;
  /** A top-level transaction that returns before the disk has it; `durable` is told once it has. */
  commitLater<T>(work: () => T, durable: (err: Error | null) => void): T;
}

export function isReceivingStore(store: Outbox): store is ReceivingStore {
  const candidate = store as Partial<ReceivingStore>;
  return typeof candidate.inbox === 'function' && typeof candidate.heldParts === 'function' && typeof candidate.commitLater === 'function';
}
