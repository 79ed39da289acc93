/** The SQL of the operator's queue (./sqlite-queue.ts), prepared once per connection. */
import type { Connection } from './sqlite-driver';
import type { RecipientState } from './types';

export interface BatchRow {
  seq: number;
  batch_id: string;
  priority: number;
  send_at: number | null;
  created_at: number;
  recipient_count: number;
}

export type QueueStatements = ReturnType<typeof prepareQueueStatements>;

export function prepareQueueStatements(db: Connection) {
  return {
    batchById: db.prepare<BatchRow>(`SELECT seq, batch_id, priority, send_at, created_at, recipient_count FROM batches WHERE batch_id = ?`),
    batchBySeq: db.prepare<BatchRow>(`SELECT seq, batch_id, priority, send_at, created_at, recipient_count FROM batches WHERE seq = ?`),
    openBatches: db.prepare<{ seq: number }>(`
      SELECT DISTINCT batch_seq AS seq FROM recipients WHERE state IN ('queued', 'claimed') ORDER BY batch_seq`),
    countsAll: db.prepare<{ state: RecipientState; n: number }>(`SELECT state, COUNT(*) AS n FROM recipients GROUP BY state`),
    countsOfBatch: db.prepare<{ state: RecipientState; n: number }>(
      `SELECT state, COUNT(*) AS n FROM recipients WHERE batch_seq = ? GROUP BY state`,
    ),
    byLineAll: db.prepare<{ line: string; state: RecipientState; n: number }>(`
      SELECT line, state, COUNT(*) AS n FROM recipients WHERE line IS NOT NULL GROUP BY line, state`),
    byLineOfBatch: db.prepare<{ line: string; state: RecipientState; n: number }>(`
      SELECT line, state, COUNT(*) AS n FROM recipients WHERE batch_seq = ? AND line IS NOT NULL GROUP BY line, state`),
    recipientState: db.prepare<{ batch_seq: number; state: RecipientState }>(`SELECT batch_seq, state FROM recipients WHERE message_id = ?`),
    endQueuedOfBatch: db.prepare<{ message_id: string }>(`
      UPDATE recipients SET state = @state, error = @reason, updated_at = @now
      WHERE batch_seq = @seq AND state = 'queued' RETURNING message_id`),
    endQueued: db.prepare<{ message_id: string }>(`
      UPDATE recipients SET state = @state, error = @reason, updated_at = @now
      WHERE message_id = @messageId AND state = 'queued' RETURNING message_id`),
    claimedInBatch: db.prepare<{ n: number }>(`SELECT COUNT(*) AS n FROM recipients WHERE batch_seq = ? AND state = 'claimed'`),
    requeueForRetry: db.prepare<{ message_id: string; number: string }>(`
      UPDATE recipients
      SET state = 'queued', error = NULL, line = NULL, send_id = NULL, tel_id = NULL, sms_no = NULL,
          excluded_lines = '[]', expires_at = NULL, result_out = NULL, updated_at = @now
      WHERE batch_seq = @seq AND state IN ('failed', 'expired') RETURNING message_id, number`),
    queuedNumbers: db.prepare<{ message_id: string; number: string }>(`SELECT message_id, number FROM recipients WHERE state = 'queued'`),
    expireDue: db.prepare<{ message_id: string }>(`
      UPDATE recipients SET state = 'expired', error = @reason, updated_at = @now
      WHERE state = 'queued' AND expires_at IS NOT NULL AND expires_at <= @now RETURNING message_id`),
    nextTimedAt: db.prepare<{ at: number | null }>(`
      SELECT MIN(at) AS at FROM (
        SELECT MIN(expires_at) AS at FROM recipients WHERE state = 'queued' AND expires_at IS NOT NULL
        UNION ALL
        SELECT MIN(b.send_at) FROM batches b
        WHERE b.send_at IS NOT NULL AND b.send_at > @now
          AND EXISTS (SELECT 1 FROM recipients r WHERE r.batch_seq = b.seq AND r.state = 'queued'))`),
    blockedAll: db.prepare<{ number: string; keyword: string | null; line: string | null; blocked_at: number }>(
      `SELECT number, keyword, line, blocked_at FROM blocked_numbers ORDER BY blocked_at, number`,
    ),
    insertBlocked: db.prepare(`
      INSERT INTO blocked_numbers (number, keyword, line, blocked_at) VALUES (@number, @keyword, @line, @now)
      ON CONFLICT (number) DO NOTHING`),
    deleteBlocked: db.prepare(`DELETE FROM blocked_numbers WHERE number = ?`),
  };
}
