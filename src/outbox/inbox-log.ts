/**
 * The inbox in the outbox's SQLite file: every received SMS (after part joining) and delivery
 * report, committed before its ack leaves, and which of them the flow has still to take. Callers
 * group writes in the outbox's transaction(); a method here never commits on its own except taken().
 */
import { numberTail, sameNumber } from '../pdu/numbers';
import type { GoipEvent } from '../link/server-types';
import { bucketWindow, INBOX_BUCKET_BITS, inboxQuerySql } from './inbox-query';
import type { Connection, Statement } from './sqlite-driver';
import type { InboxFilter, InboxLog, InboxPage, InboxQuery, InboxRecord, InboxRowOut, RecentReport, SentTo, UntakenMessage } from './types';

interface UntakenRow {
  inbox_id: number;
  event: string;
  handed: number;
}

/** Candidates a history query reads per statement, and at most per page. */
const QUERY_CHUNK_ROWS = 500;
const QUERY_SCAN_ROWS = 20_000;
const QUERY_STATEMENTS = 64;
/** Report keys a restart reads at most (each line's de-duplication window keeps its own newest). */
const RECENT_REPORTS_READ = 100_000;

const UNTAKEN_PAGE = `SELECT i.inbox_id, i.event, i.handed FROM inbox_pending p JOIN inbox i ON i.inbox_id = p.inbox_id
  WHERE p.inbox_id > @after
    AND (@kinds IS NULL OR i.kind IN (SELECT value FROM json_each(@kinds)))
    AND (@line IS NULL OR i.line = @line)
    AND NOT EXISTS (SELECT 1 FROM inbox_takes t WHERE t.inbox_id = i.inbox_id AND t.node_id = @nodeId)
  ORDER BY p.inbox_id LIMIT @limit`;

const RECENT_REPORTS = `SELECT line, report_key AS key, received_at AS at FROM inbox
  WHERE received_at >= @since AND report_key IS NOT NULL ORDER BY received_at DESC LIMIT @limit`;

/** Candidates by number tail, newest first; the caller compares the numbers in full. */
const SENT_TO = `SELECT r.message_id, b.batch_id, r.sent_at, r.line, r.number FROM recipients r JOIN batches b ON b.seq = r.batch_seq
  WHERE r.state = 'sent' AND r.number_tail = @tail AND r.sent_at >= @since ORDER BY r.sent_at DESC LIMIT 50`;

export class SqliteInboxLog implements InboxLog {
  private readonly db: Connection;
  private readonly insertRow: Statement<{ inbox_id: number }>;
  private readonly recentReportRows: Statement<RecentReport>;
  private readonly untakenPage: Statement<UntakenRow>;
  private readonly insertPending: Statement<never>;
  private readonly dropPending: Statement<never>;
  private readonly insertTake: Statement<never>;
  private readonly dropTakes: Statement<never>;
  private readonly takesOfRow: Statement<{ node_id: string }>;
  private readonly sentTo: Statement<{ message_id: string; batch_id: string; sent_at: number; line: string | null; number: string }>;
  private readonly queries = new Map<string, Statement<InboxRowOut>>();
  private readonly idRange: Statement<{ lowest: number | null; highest: number | null }>;

  constructor(
    db: Connection,
    private readonly inTransaction: <T>(work: () => T) => T,
  ) {
    this.db = db;
    this.insertRow = db.prepare(`INSERT INTO inbox (kind, line, sender, sender_tail, text, received_at, parts, message_id, status, event, report_key, handed)
      VALUES (@kind, @line, @sender, @tail, @text, @receivedAt, @parts, @messageId, @status, @event, @reportKey, @handed) RETURNING inbox_id`);
    this.recentReportRows = db.prepare<RecentReport>(RECENT_REPORTS);
    this.untakenPage = db.prepare<UntakenRow>(UNTAKEN_PAGE);
    this.insertPending = db.prepare('INSERT INTO inbox_pending (inbox_id) VALUES (?)');
    // One statement for a whole batch of takes: a statement per message cost more than its writes.
    this.dropPending = db.prepare('DELETE FROM inbox_pending WHERE inbox_id IN (SELECT value FROM json_each(@ids))');
    this.insertTake = db.prepare('INSERT OR IGNORE INTO inbox_takes (inbox_id, node_id) VALUES (@id, @nodeId)');
    this.dropTakes = db.prepare('DELETE FROM inbox_takes WHERE inbox_id IN (SELECT value FROM json_each(@ids))');
    this.takesOfRow = db.prepare('SELECT node_id FROM inbox_takes WHERE inbox_id = ?');
    this.sentTo = db.prepare(SENT_TO);
    this.idRange = db.prepare('SELECT min(inbox_id) AS lowest, max(inbox_id) AS highest FROM inbox');
  }

  /** Stores one message (inside the caller's transaction) and returns its inboxId. */
  insert(record: InboxRecord): number {
    const inboxId = this.insertRow.get({
      kind: record.kind,
      line: record.line,
      sender: record.sender,
      tail: numberTail(record.sender),
      text: record.text,
      receivedAt: record.receivedAt,
      parts: record.parts,
      messageId: record.messageId,
      status: record.status,
      event: JSON.stringify(record.event),
      reportKey: record.reportKey,
      handed: record.handed ? 1 : 0,
    })!.inbox_id;
    this.insertPending.run(inboxId);
    return inboxId;
  }

  /**
   * The de-duplication keys of the reports stored since `since`, oldest first, at most `limit` of
   * the newest: a restarted server remembers them, so a resend whose ack was lost in the crash is
   * acked and not stored again.
   */
  recentReports(since: number, limit = RECENT_REPORTS_READ): RecentReport[] {
    return this.recentReportRows.all({ since, limit }).reverse();
  }

  /** Messages `nodeId` accepts and has not taken, in receive order, after `after`. */
  untaken(nodeId: string, filter: InboxFilter, after: number, limit: number): UntakenMessage[] {
    const kinds = filter.kinds === null ? null : JSON.stringify(filter.kinds);
    return this.untakenPage
      .all({ nodeId, kinds, line: filter.line, after, limit })
      .map((row) => ({ inboxId: row.inbox_id, event: { ...(JSON.parse(row.event) as GoipEvent), inboxId: row.inbox_id }, handed: row.handed === 1 }));
  }

  /** The consumers that took their copy of a message others have still to take. */
  takesOf(inboxId: number): string[] {
    return this.takesOfRow.all(inboxId).map((row) => row.node_id);
  }

  /**
   * Commits takes: `done` are taken by every consumer that accepts them, `partial` by one node of
   * several. Inside the caller's transaction when there is one.
   */
  taken(done: readonly number[], partial: ReadonlyArray<{ inboxId: number; nodeId: string }>): void {
    if (done.length === 0 && partial.length === 0) return;
    this.inTransaction(() => {
      if (done.length > 0) {
        const ids = JSON.stringify(done);
        this.dropPending.run({ ids });
        this.dropTakes.run({ ids });
      }
      for (const take of partial) this.insertTake.run({ id: take.inboxId, nodeId: take.nodeId });
    });
  }

  /**
   * A history page (src/outbox/inbox-query.ts): candidates come from the indexes a chunk at a time,
   * the sender and the text are compared in full here. A page ends early (with a cursor) once
   * QUERY_SCAN_ROWS candidates were read or QUERY_STATEMENTS run, so a rare text or sender never
   * scans the whole store at once. By sender or line, the statements walk the buckets newest first.
   */
  query(query: InboxQuery): InboxPage {
    const textNeedle = query.text?.toLowerCase();
    const { sql, params, bucketed } = inboxQuerySql(query, query.from === undefined ? null : numberTail(query.from));
    let statement = this.queries.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare<InboxRowOut>(sql);
      this.queries.set(sql, statement);
    }
    const matches: InboxRowOut[] = [];
    const ids = this.idRange.get()!;
    const lowest = ids.lowest ?? 0;
    let before = Math.min(query.before ?? Number.MAX_SAFE_INTEGER, (ids.highest ?? 0) + 1);
    for (let scanned = 0, statements = 0; scanned < QUERY_SCAN_ROWS && statements < QUERY_STATEMENTS; statements++) {
      if (before <= lowest) return { rows: matches, next: null };
      const buckets = bucketed ? bucketWindow(before, lowest) : [];
      const chunk = statement.all({ ...params, before, chunk: QUERY_CHUNK_ROWS, ...(bucketed ? { buckets: JSON.stringify(buckets) } : {}) });
      for (const row of chunk) {
        if (query.from !== undefined && !sameNumber(row.sender, query.from)) continue;
        if (textNeedle !== undefined && !row.text.toLowerCase().includes(textNeedle)) continue;
        matches.push(row);
        if (matches.length > query.limit) return { rows: matches.slice(0, query.limit), next: String(matches[query.limit - 1].inbox_id) };
      }
      scanned += chunk.length;
      if (chunk.length === QUERY_CHUNK_ROWS) before = chunk[chunk.length - 1].inbox_id;
      else if (bucketed) before = buckets[buckets.length - 1] * 2 ** INBOX_BUCKET_BITS; // this window is done
      else return { rows: matches, next: null };
    }
    return { rows: matches, next: String(before) };
  }

  /** The last SMS sent to `number` at or after `since`, null when none. */
  lastSentTo(number: string, since: number): SentTo | null {
    for (const row of this.sentTo.all({ tail: numberTail(number), since })) {
      if (sameNumber(row.number, number)) return { messageId: row.message_id, batchId: row.batch_id, sentAt: row.sent_at, line: row.line };
    }
    return null;
  }
}
