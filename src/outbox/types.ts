/**
 * The durable outbound queue as the bulk-send engine and the goip-send node see it. One
 * implementation (SQLite, ./sqlite-outbox.ts, on better-sqlite3 or node:sqlite); the engine never
 * touches SQL.
 *
 * Life of a recipient: queued -> claimed (line + sendId + telId committed BEFORE the SEND leaves)
 * -> sent (smsNo) | failed (reason) | queued again (failover, the line added to excludedLines)
 * -> delivered/undeliverable later by a delivery report.
 */

export type RecipientState = 'queued' | 'claimed' | 'sent' | 'failed';

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
  /** `group`: the routing group whose lines may send it (absent or '' = the lines in no group). */
  recipients: Array<{ messageId: string; number: string; group?: string }>;
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
  /** Commits the batch and all its recipients in one transaction (durable when it returns). */
  enqueue(batch: NewBatch): void;
  /**
   * Claims up to `limit` queued recipients of ONE batch that `line` may send (not pinned
   * elsewhere, line not excluded), oldest first, and records line/sendId/telIds (telIds given in
   * order) in the same transaction. Returns the claimed recipients (possibly fewer, maybe none).
   * `groups`: only recipients of these routing groups (absent = any group).
   */
  claim(line: string, sendId: number, firstTelId: number, limit: number, batchId?: string, groups?: readonly string[]): Recipient[];
  /** The batch claim() would take from for `line` now (its id and text), without claiming; null when none. */
  nextBatch(line: string, groups?: readonly string[]): { batchId: string; text: string } | null;
  /** Fails every queued recipient whose routing group is not among `groups` (no configured line may send it). */
  failUnroutable(groups: readonly string[]): Recipient[];
  /** SMS `line` sent at or after `since` (ms epoch): the rolling hourly limit. */
  sentSince(line: string, since: number): number;
  /** Recipients claimed before a restart: resume them with the SAME line/sendId/telId. */
  claimedRecipients(): Recipient[];
  /** Sent with `smsNo`; the line's count for `day` (YYYY-MM-DD, local) goes up in the same commit. */
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
  queuedCount(): number;
  claimedCount(): number;
  get(messageId: string): Recipient | undefined;
  /** Recipients in a final state older than `olderThanMs` are deleted (the store stays small). */
  purge(olderThanMs: number, now: number): number;
  /**
   * Runs `work` as ONE commit: every outbox call inside joins it, and it is durable when this
   * returns (rolled back if `work` throws). Many claims in one pass cost one fsync, not many.
   */
  transaction<T>(work: () => T): T;
  close(): void;
}
