/**
 * The receive side of the shared store: the inbox (every received SMS and delivery report, and
 * which goip-in nodes have still to take them) and the held parts of long SMS, on PostgreSQL.
 * Each inbox row names the instance that stored it: that instance hands it out while it lives;
 * once its lease lapsed, a live instance adopts what it left untaken and hands that out (at least
 * once). Semantics are those of the SQLite store (../inbox-log.ts, ../held-parts.ts).
 */
import type pg from 'pg';
import type { GoipEvent } from '../../link/server-types';
import { numberTail, sameNumber } from '../../pdu/numbers';
import type {
  Asynchronous,
  HeldPart,
  HeldPartStore,
  InboxFilter,
  InboxLog,
  InboxPage,
  InboxQuery,
  InboxRecord,
  InboxRowOut,
  InboxWrites,
  RecentReport,
  SentTo,
  UntakenMessage,
} from '../types';

/** As the SQLite store: candidates a history query reads per statement, and at most per page. */
const QUERY_CHUNK_ROWS = 500;
const QUERY_SCAN_ROWS = 20_000;
const RECENT_REPORTS_READ = 100_000;

type Takes = InboxWrites['takes'];
const NO_TAKES: Takes = { done: [], partial: [] };

/**
 * The flow's takes as common table expressions over three parameters from $first on (done
 * inboxIds, then the partial takes' inboxIds and node ids, as takeParams gives them): done messages
 * leave the pending list and their partial takes; a partial take is kept until its message is done.
 */
function takesCte(first: number): string {
  const [done, ids, nodes] = [`$${first}`, `$${first + 1}`, `$${first + 2}`];
  return `dropped AS (DELETE FROM inbox_pending WHERE inbox_id = ANY (${done}::bigint[])),
  untaken AS (DELETE FROM inbox_takes WHERE inbox_id = ANY (${done}::bigint[])),
  took AS (INSERT INTO inbox_takes (inbox_id, node_id)
    SELECT t.id, t.node FROM unnest(${ids}::bigint[], ${nodes}::text[]) AS t(id, node) WHERE NOT (t.id = ANY (${done}::bigint[]))
    ON CONFLICT DO NOTHING)`;
}

function takeParams(done: readonly number[], partial: ReadonlyArray<{ inboxId: number; nodeId: string }>): unknown[] {
  return [[...done], partial.map((take) => take.inboxId), partial.map((take) => take.nodeId)];
}

export interface PgInboxOptions {
  /** This instance: the rows it stores are its own to hand out. */
  instance: string;
  /** How long an instance's last renewal counts (./pg-presence.ts). */
  leaseMs: number;
  now?: () => number;
}

export class PgInboxLog implements Asynchronous<Omit<InboxLog, 'insert'>> {
  private readonly instance: string;
  private readonly leaseMs: number;
  private readonly now: () => number;

  constructor(
    private readonly pool: Pick<pg.PoolClient, 'query'>,
    options: PgInboxOptions,
  ) {
    this.instance = options.instance;
    this.leaseMs = options.leaseMs;
    this.now = options.now ?? Date.now;
  }

  /**
   * Stores messages in one statement (one round trip, one commit), in order, with the flow's takes
   * since the last commit in the same statement; their inboxIds.
   */
  async insert(records: readonly InboxRecord[], takes: Takes = NO_TAKES): Promise<number[]> {
    if (records.length === 0) {
      await this.taken(takes.done, takes.partial);
      return [];
    }
    const withTakes = takes.done.length > 0 || takes.partial.length > 0;
    // One JSON document for the batch: one native stringify, and the events go in as jsonb without
    // a second encoding (text arrays would escape every quote of every event).
    const batch = JSON.stringify(
      records.map((r, n) => ({
        n, kind: r.kind, line: r.line, sender: r.sender, tail: numberTail(r.sender), text: r.text, received_at: r.receivedAt, parts: r.parts,
        message_id: r.messageId, status: r.status, event: r.event, report_key: r.reportKey, handed: r.handed,
      })),
    );
    const { rows } = await this.pool.query<{ inbox_id: number }>(
      `WITH ${withTakes ? `${takesCte(3)},` : ''}
      stored AS (
        INSERT INTO inbox (kind, line, sender, sender_tail, text, received_at, parts, message_id, status, event, report_key, handed, instance)
        SELECT kind, line, sender, tail, text, received_at, parts, message_id, status, event, report_key, handed, $2
        FROM json_to_recordset($1::json) AS m(n int, kind text, line text, sender text, tail text, text text, received_at bigint, parts int,
          message_id text, status text, event jsonb, report_key bigint, handed boolean)
        ORDER BY n
        RETURNING inbox_id),
      pending AS (INSERT INTO inbox_pending (inbox_id) SELECT inbox_id FROM stored)
      SELECT inbox_id FROM stored ORDER BY inbox_id`,
      [batch, this.instance, ...(withTakes ? takeParams(takes.done, takes.partial) : [])],
    );
    return rows.map((row) => row.inbox_id);
  }

  async recentReports(since: number, limit = RECENT_REPORTS_READ): Promise<RecentReport[]> {
    const { rows } = await this.pool.query<RecentReport>(
      `SELECT line, report_key AS key, received_at AS at FROM inbox
       WHERE received_at >= $1 AND report_key IS NOT NULL ORDER BY received_at DESC, inbox_id DESC LIMIT $2`,
      [since, limit],
    );
    return rows.reverse();
  }

  /** What `nodeId` accepts and has not taken of this instance's rows, in receive order, after `after`. */
  async untaken(nodeId: string, filter: InboxFilter, after: number, limit: number): Promise<UntakenMessage[]> {
    const { rows } = await this.pool.query<{ inbox_id: number; event: GoipEvent; handed: boolean }>(
      `SELECT i.inbox_id, i.event, i.handed FROM inbox_pending p JOIN inbox i ON i.inbox_id = p.inbox_id
       WHERE p.inbox_id > $1 AND i.instance = $2
         AND ($3::text[] IS NULL OR i.kind = ANY ($3::text[]))
         AND ($4::text IS NULL OR i.line = $4)
         AND NOT EXISTS (SELECT 1 FROM inbox_takes t WHERE t.inbox_id = i.inbox_id AND t.node_id = $5)
       ORDER BY p.inbox_id LIMIT $6`,
      [after, this.instance, filter.kinds === null ? null : [...filter.kinds], filter.line, nodeId, limit],
    );
    return rows.map((row) => ({ inboxId: row.inbox_id, event: { ...row.event, inboxId: row.inbox_id }, handed: row.handed }));
  }

  /** The untaken rows of instances whose lease lapsed become this instance's to hand out; how many. */
  async adoptOrphans(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE inbox i SET instance = $1 FROM inbox_pending p
       WHERE p.inbox_id = i.inbox_id AND i.instance <> $1
         AND NOT EXISTS (SELECT 1 FROM instances s WHERE s.instance = i.instance AND s.renewed_at >= $2::bigint - $3::bigint)`,
      [this.instance, this.now(), this.leaseMs],
    );
    return rowCount ?? 0;
  }

  async takesOf(inboxId: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ node_id: string }>('SELECT node_id FROM inbox_takes WHERE inbox_id = $1 ORDER BY node_id', [inboxId]);
    return rows.map((row) => row.node_id);
  }

  /** Takes in one statement: `done` taken by every consumer that accepts them, `partial` by one of several. */
  async taken(done: readonly number[], partial: ReadonlyArray<{ inboxId: number; nodeId: string }>): Promise<void> {
    if (done.length === 0 && partial.length === 0) return;
    await this.pool.query(`WITH ${takesCte(1)} SELECT 1`, takeParams(done, partial));
  }

  /** A history page, newest first: candidates by the indexed columns a chunk at a time, sender and text compared in full here. */
  async query(query: InboxQuery): Promise<InboxPage> {
    const textNeedle = query.text?.toLowerCase();
    const where = ['inbox_id < $1'];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length + 2}`));
    };
    if (query.from !== undefined) add('sender_tail = ?', numberTail(query.from));
    if (query.line !== undefined) add('line = ?', query.line);
    if (query.kind !== undefined) add('kind = ?', query.kind);
    if (query.since !== undefined) add('received_at >= ?', query.since);
    if (query.until !== undefined) add('received_at < ?', query.until);
    const sql = `SELECT inbox_id, kind, line, sender, text, received_at, parts, message_id, status FROM inbox
      WHERE ${where.join(' AND ')} ORDER BY inbox_id DESC LIMIT $2`;
    const matches: InboxRowOut[] = [];
    let before = query.before ?? Number.MAX_SAFE_INTEGER;
    for (let scanned = 0; scanned < QUERY_SCAN_ROWS; ) {
      const { rows: chunk } = await this.pool.query<InboxRowOut>(sql, [before, QUERY_CHUNK_ROWS, ...params]);
      for (const row of chunk) {
        if (query.from !== undefined && !sameNumber(row.sender, query.from)) continue;
        if (textNeedle !== undefined && !row.text.toLowerCase().includes(textNeedle)) continue;
        matches.push(row);
        if (matches.length > query.limit) return { rows: matches.slice(0, query.limit), next: String(matches[query.limit - 1].inbox_id) };
      }
      scanned += chunk.length;
      if (chunk.length < QUERY_CHUNK_ROWS) return { rows: matches, next: null };
      before = chunk[chunk.length - 1].inbox_id;
    }
    return { rows: matches, next: String(before) };
  }

  async lastSentTo(number: string, since: number): Promise<SentTo | null> {
    const [sent] = await this.lastSentToEach([{ number, since }]);
    return sent;
  }

  /** The last SMS sent to each number since its time, in one statement: candidates by number tail, compared in full here. */
  async lastSentToEach(asks: ReadonlyArray<{ number: string; since: number }>): Promise<Array<SentTo | null>> {
    if (asks.length === 0) return [];
    const { rows } = await this.pool.query<{ n: number; message_id: string; batch_id: string; sent_at: number; line: string | null; number: string }>(
      `SELECT q.n, s.message_id, s.batch_id, s.sent_at, s.line, s.number
       FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS q(tail, since, n)
       CROSS JOIN LATERAL (
         SELECT r.message_id, b.batch_id, r.sent_at, r.line, r.number FROM recipients r JOIN batches b ON b.seq = r.batch_seq
         WHERE r.state = 'sent' AND r.number_tail = q.tail AND r.sent_at >= q.since ORDER BY r.sent_at DESC LIMIT 50) s
       ORDER BY q.n, s.sent_at DESC`,
      [asks.map((ask) => numberTail(ask.number)), asks.map((ask) => ask.since)],
    );
    const found: Array<SentTo | null> = asks.map(() => null);
    for (const row of rows) {
      const i = row.n - 1;
      if (found[i] !== null || !sameNumber(row.number, asks[i].number)) continue;
      found[i] = { messageId: row.message_id, batchId: row.batch_id, sentAt: row.sent_at, line: row.line };
    }
    return found;
  }
}

export class PgHeldParts implements Asynchronous<HeldPartStore> {
  readonly durable = true;

  constructor(private readonly pool: Pick<pg.PoolClient, 'query'>) {}

  async all(): Promise<HeldPart[]> {
    const { rows } = await this.pool.query<{ line: string; sender: string; event: GoipEvent; held_at: number }>(
      'SELECT line, sender, event, held_at FROM held_parts ORDER BY seq',
    );
    return rows.map((row) => ({ line: row.line, from: row.sender, event: row.event, heldAt: row.held_at }));
  }

  async hold(part: HeldPart): Promise<void> {
    await this.pool.query('INSERT INTO held_parts (line, sender, event, held_at) VALUES ($1, $2, $3, $4)', [part.line, part.from, JSON.stringify(part.event), part.heldAt]);
  }

  async release(line: string, from: string): Promise<void> {
    await this.pool.query('DELETE FROM held_parts WHERE line = $1 AND sender = $2', [line, from]);
  }
}
