/** ResultLog of the in-memory outbox double (./memory-outbox.ts), following src/outbox/result-log.ts. */
import type { ResultCursor, ResultLog, ResultPage } from '../../src/outbox/types';
import type { Recipient } from '../../src/outbox/types';
import type { QueueRecord } from './memory-queue';

const before = (a: ResultCursor, b: ResultCursor): boolean => a.batchSeq < b.batchSeq || (a.batchSeq === b.batchSeq && a.index < b.index);

export class MemoryResultLog implements ResultLog {
  constructor(
    private readonly records: () => Iterable<QueueRecord>,
    private readonly view: (record: QueueRecord) => Recipient,
  ) {}

  unreported(nodeId: string, after: ResultCursor | null, limit: number): ResultPage {
    const page = [...this.records()]
      .filter((r) => r.nodeId === nodeId && !r.resultOut && r.state !== 'queued' && r.state !== 'claimed')
      .filter((r) => after === null || before(after, { batchSeq: r.batchSeq, index: r.index }))
      .sort((a, b) => a.batchSeq - b.batchSeq || a.index - b.index)
      .slice(0, limit);
    const last = page.at(-1);
    return { recipients: page.map(this.view), next: page.length === limit && last !== undefined ? { batchSeq: last.batchSeq, index: last.index } : null };
  }

  taken(messageIds: readonly string[]): void {
    const ids = new Set(messageIds);
    for (const r of this.records()) if (ids.has(r.messageId)) r.resultOut = true;
  }
}
