/**
 * Which final results the flow has taken. A result that went out but was not taken when the
 * process died (a kill -9 with messages still inside the flow) is emitted again by its goip-send
 * after the restart: results are at least once, a duplicate possible, none lost.
 */
import type { Connection, Statement } from './sqlite-driver';
import { type RecipientRow, SELECT_RECIPIENT, toRecipient } from './statements';
import type { ResultCursor, ResultLog, ResultPage } from './types';

/** A page of unreported results: a search of the partial index recipients_unreported (test/outbox/result-log.test.ts). */
export const UNREPORTED_PAGE = `${SELECT_RECIPIENT}
  WHERE r.result_out IS NULL AND r.state NOT IN ('queued', 'claimed') AND (r.batch_seq, r.idx) > (@seq, @idx) AND b.node_id = @nodeId
  ORDER BY r.batch_seq, r.idx LIMIT @limit`;

export class SqliteResultLog implements ResultLog {
  private readonly page: Statement<RecipientRow>;
  private readonly markTaken: Statement<never>;

  constructor(
    db: Connection,
    private readonly inTransaction: <T>(work: () => T) => T,
    private readonly now: () => number,
  ) {
    this.page = db.prepare<RecipientRow>(UNREPORTED_PAGE);
    this.markTaken = db.prepare('UPDATE recipients SET result_out = @now WHERE message_id = @messageId');
  }

  unreported(nodeId: string, after: ResultCursor | null, limit: number): ResultPage {
    const rows = this.page.all({ nodeId, seq: after?.batchSeq ?? -1, idx: after?.index ?? -1, limit });
    const last = rows.at(-1);
    return {
      recipients: rows.map(toRecipient),
      next: rows.length === limit && last !== undefined ? { batchSeq: last.batch_seq, index: last.idx } : null,
    };
  }

  taken(messageIds: readonly string[]): void {
    if (messageIds.length === 0) return;
    this.inTransaction(() => {
      const now = this.now();
      for (const messageId of messageIds) this.markTaken.run({ now, messageId });
    });
  }
}
