/**
 * The operator's side of the shared queue (QueueControl: status counts, cancel, retry, the block
 * list, expiry) and the result log (which final results a goip-send has taken), on PostgreSQL.
 * The whole cluster's queue: goip-queue on any instance steers every batch, and a goip-send's
 * untaken results are there for the goip-send of that node id on whichever instance asks.
 * Semantics are those of the SQLite store (../sqlite-queue.ts, ../result-log.ts).
 */
import type pg from 'pg';
import { BlockList } from '../block-list';
import { QUEUE_REASONS } from '../failure-reasons';
import { byLine, tally } from '../sqlite-queue';
import {
  type Asynchronous,
  type BatchStatus,
  type BlockedNumber,
  type CancelResult,
  NUMBER_LINES_KEPT_MS,
  PRIORITIES,
  type QueueControl,
  type QueueStatus,
  type QueueTarget,
  type Recipient,
  type RecipientState,
  type ResultCursor,
  type ResultLog,
  type ResultPage,
} from '../types';
import { inTransaction } from './pg-pool';
import { COLUMNS, type RecipientRow, SELECT_RECIPIENT, toRecipient } from './pg-rows';

interface BatchRow {
  seq: number;
  batch_id: string;
  priority: number;
  send_at: number | null;
  created_at: number;
  recipient_count: number;
}

type Query = Pick<pg.PoolClient, 'query'>;

/** line_sends keeps the hourly limit's window (as the SQLite store). */
const LINE_SENDS_KEPT_MS = 3600_000;

const BATCH = 'SELECT seq, batch_id, priority, send_at, created_at, recipient_count FROM batches';

export class PgQueueControl implements Asynchronous<QueueControl> {
  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => number = Date.now,
  ) {}

  async status(batchId?: string): Promise<QueueStatus | null> {
    return inTransaction(this.pool, async (client) => {
      if (batchId === undefined) {
        const open = await client.query<BatchRow>(
          `${BATCH} WHERE seq IN (SELECT batch_seq FROM recipients WHERE state IN ('queued', 'claimed')) ORDER BY seq`,
        );
        const counts = await client.query<{ state: RecipientState; n: number }>('SELECT state, count(*)::int AS n FROM recipients GROUP BY state');
        const lines = await client.query<{ line: string; state: RecipientState; n: number }>(
          'SELECT line, state, count(*)::int AS n FROM recipients WHERE line IS NOT NULL GROUP BY line, state',
        );
        const batches: BatchStatus[] = [];
        for (const batch of open.rows) batches.push(await this.batchStatus(client, batch)); // one query at a time on a connection
        return { ...tally(counts.rows), byLine: byLine(lines.rows), batches };
      }
      const batch = await this.batch(client, batchId);
      if (batch === null) return null;
      const lines = await client.query<{ line: string; state: RecipientState; n: number }>(
        'SELECT line, state, count(*)::int AS n FROM recipients WHERE batch_seq = $1 AND line IS NOT NULL GROUP BY line, state',
        [batch.seq],
      );
      const status = await this.batchStatus(client, batch);
      const { batchId: _id, priority: _p, sendAt: _s, createdAt: _c, count: _n, ...counts } = status;
      return { ...counts, byLine: byLine(lines.rows), batches: [status] };
    });
  }

  async cancel(target: QueueTarget): Promise<CancelResult | null> {
    return inTransaction(this.pool, async (client) => {
      const now = this.now();
      if ('batchId' in target) {
        const batch = await this.batch(client, target.batchId);
        if (batch === null) return null;
        const cancelled = await this.endQueued(client, 'cancelled', 'r.batch_seq = $3', [batch.seq], now);
        const inFlight = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM recipients WHERE batch_seq = $1 AND state = 'claimed'", [batch.seq]);
        return { cancelled, inFlight: inFlight.rows[0].n };
      }
      const found = await client.query<{ state: RecipientState }>('SELECT state FROM recipients WHERE message_id = $1', [target.messageId]);
      if (found.rows.length === 0) return null;
      const cancelled = await this.endQueued(client, 'cancelled', 'r.message_id = $3', [target.messageId], now);
      return { cancelled, inFlight: found.rows[0].state === 'claimed' ? 1 : 0 };
    });
  }

  async retry(batchId: string): Promise<{ queued: number; blocked: Recipient[] } | null> {
    return inTransaction(this.pool, async (client) => {
      const batch = await this.batch(client, batchId);
      if (batch === null) return null;
      const again = await client.query<{ message_id: string; number: string }>(
        `UPDATE recipients
         SET state = 'queued', error = NULL, line = NULL, send_id = NULL, tel_id = NULL, sms_no = NULL,
             excluded_lines = '[]', expires_at = NULL, result_out = NULL, updated_at = $2
         WHERE batch_seq = $1 AND state IN ('failed', 'expired') RETURNING message_id, number`,
        [batch.seq, this.now()],
      );
      const blocked = await this.blockAmong(client, again.rows, await this.blockList(client));
      return { queued: again.rows.length - blocked.length, blocked };
    });
  }

  async block(numbers: readonly string[], source?: { keyword: string; line: string }): Promise<Recipient[]> {
    return inTransaction(this.pool, async (client) => {
      const list = await this.blockList(client);
      const now = this.now();
      for (const number of numbers) {
        if (list.has(number)) continue;
        await client.query('INSERT INTO blocked_numbers (number, keyword, line, blocked_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
          number, source?.keyword ?? null, source?.line ?? null, now,
        ]);
        list.add(number);
      }
      const queued = await client.query<{ message_id: string; number: string }>("SELECT message_id, number FROM recipients WHERE state = 'queued'");
      return this.blockAmong(client, queued.rows, new BlockList(numbers));
    });
  }

  async unblock(numbers: readonly string[]): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      const list = await this.blockList(client);
      const entries = [...new Set(numbers.flatMap((number) => list.matches(number)))];
      if (entries.length === 0) return 0;
      const { rowCount } = await client.query('DELETE FROM blocked_numbers WHERE number = ANY ($1::text[])', [entries]);
      return rowCount ?? 0;
    });
  }

  async blocked(): Promise<BlockedNumber[]> {
    const { rows } = await this.pool.query<{ number: string; keyword: string | null; line: string | null; blocked_at: number }>(
      'SELECT number, keyword, line, blocked_at FROM blocked_numbers ORDER BY blocked_at, number',
    );
    return rows.map((row) => ({ number: row.number, keyword: row.keyword, line: row.line, blockedAt: row.blocked_at }));
  }

  async expireDue(): Promise<Recipient[]> {
    return inTransaction(this.pool, (client) => this.endQueued(client, 'expired', 'r.expires_at IS NOT NULL AND r.expires_at <= $2', [], this.now()));
  }

  async nextTimedAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ at: number | null }>(
      `SELECT MIN(at) AS at FROM (
        SELECT MIN(expires_at) AS at FROM recipients WHERE state = 'queued' AND expires_at IS NOT NULL
        UNION ALL
        SELECT MIN(b.send_at) FROM batches b
        WHERE b.send_at IS NOT NULL AND b.send_at > $1 AND EXISTS (SELECT 1 FROM recipients r WHERE r.batch_seq = b.seq AND r.state = 'queued')) t`,
      [this.now()],
    );
    return rows[0]?.at ?? null;
  }

  /** Final recipients, the inbox and the hourly send log older than retention; the recipients purged. */
  async purge(olderThanMs: number, now: number): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query("DELETE FROM recipients WHERE state NOT IN ('queued', 'claimed') AND updated_at < $1", [now - olderThanMs]);
      await client.query('DELETE FROM batches b WHERE NOT EXISTS (SELECT 1 FROM recipients r WHERE r.batch_seq = b.seq)');
      await client.query('DELETE FROM line_sends WHERE at < $1', [now - LINE_SENDS_KEPT_MS]);
      await client.query('DELETE FROM inbox WHERE received_at < $1', [now - olderThanMs]);
      await client.query('DELETE FROM number_lines WHERE at < $1', [now - NUMBER_LINES_KEPT_MS]);
      return rowCount ?? 0;
    });
  }

  private async batch(client: Query, batchId: string): Promise<BatchRow | null> {
    const { rows } = await client.query<BatchRow>(`${BATCH} WHERE batch_id = $1`, [batchId]);
    return rows[0] ?? null;
  }

  private async batchStatus(client: Query, batch: BatchRow): Promise<BatchStatus> {
    const counts = await client.query<{ state: RecipientState; n: number }>(
      'SELECT state, count(*)::int AS n FROM recipients WHERE batch_seq = $1 GROUP BY state',
      [batch.seq],
    );
    return {
      batchId: batch.batch_id,
      priority: PRIORITIES[batch.priority],
      sendAt: batch.send_at,
      createdAt: batch.created_at,
      count: batch.recipient_count,
      ...tally(counts.rows),
    };
  }

  /** Queued recipients `where` selects ($1 reason, $2 now, $3.. `values`) end in `state`, in message order. */
  private async endQueued(client: Query, state: RecipientState, where: string, values: unknown[], now: number): Promise<Recipient[]> {
    const reason = QUEUE_REASONS[state as keyof typeof QUEUE_REASONS];
    const { rows } = await client.query<RecipientRow>(
      `UPDATE recipients r SET state = '${state}', error = $1, updated_at = $2 FROM batches b
       WHERE b.seq = r.batch_seq AND r.state = 'queued' AND ${where} RETURNING ${COLUMNS}`,
      [reason, now, ...values],
    );
    return rows.sort((a, b) => a.batch_seq - b.batch_seq || a.idx - b.idx).map(toRecipient);
  }

  private async blockList(client: Query): Promise<BlockList> {
    const { rows } = await client.query<{ number: string }>('SELECT number FROM blocked_numbers');
    return new BlockList(rows.map((row) => row.number));
  }

  /** Queued `candidates` whose number is on `list` end blocked; returns them. */
  private async blockAmong(client: Query, candidates: ReadonlyArray<{ message_id: string; number: string }>, list: BlockList): Promise<Recipient[]> {
    if (list.size === 0) return [];
    const ids = candidates.filter(({ number }) => list.has(number)).map(({ message_id }) => message_id);
    if (ids.length === 0) return [];
    return this.endQueued(client, 'blocked', 'r.message_id = ANY ($3::text[])', [ids], this.now());
  }
}

export class PgResultLog implements Asynchronous<ResultLog> {
  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => number = Date.now,
  ) {}

  async unreported(nodeId: string, after: ResultCursor | null, limit: number): Promise<ResultPage> {
    const { rows } = await this.pool.query<RecipientRow>(
      `${SELECT_RECIPIENT}
       WHERE r.result_out IS NULL AND r.state NOT IN ('queued', 'claimed') AND (r.batch_seq, r.idx) > ($2, $3) AND b.node_id = $1
       ORDER BY r.batch_seq, r.idx LIMIT $4`,
      [nodeId, after?.batchSeq ?? -1, after?.index ?? -1, limit],
    );
    const last = rows.at(-1);
    return {
      recipients: rows.map(toRecipient),
      next: rows.length === limit && last !== undefined ? { batchSeq: last.batch_seq, index: last.idx } : null,
    };
  }

  async taken(messageIds: readonly string[]): Promise<void> {
    if (messageIds.length === 0) return;
    await this.pool.query('UPDATE recipients SET result_out = $2 WHERE message_id = ANY ($1::text[])', [[...messageIds], this.now()]);
  }
}
