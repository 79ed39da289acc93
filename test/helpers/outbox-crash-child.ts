/**
 * Child process of the outbox crash test (forked with IPC, argv[2] = store file). Commits a
 * 1,000-recipient batch and three claims, reports them, then keeps writing (enqueue, claim, markSent
 * in churn batches) until the test kills it with SIGKILL, so the kill lands amid commits.
 */
import { SqliteOutbox } from '../../src/outbox';

export const CRASH_BATCH = { id: 'crash', size: 1000 };
export const CHURN_BATCH_SIZE = 100;
export const CHURN_CLAIM = 10;
/** Churn rounds before the child tells the test to kill it. */
export const CHURN_ROUNDS_BEFORE_KILL = 20;

export interface ClaimedRecord {
  messageId: string;
  line: string | null;
  sendId: number | null;
  telId: number | null;
}
export type ChildMessage = { type: 'committed'; claimed: ClaimedRecord[] } | { type: 'churning'; rounds: number };

export function crashBatchRecipient(index: number): { messageId: string; number: string } {
  return { messageId: `${CRASH_BATCH.id}-${index}`, number: `+38096${String(index).padStart(7, '0')}` };
}

export function churnMessageId(round: number, index: number): string {
  return `churn-${round}-${index}`;
}

function batch(batchId: string, recipients: Array<{ messageId: string; number: string }>) {
  return { batchId, text: 'crash test', line: null, nodeId: 'send1', meta: {}, segments: 1, encoding: 'GSM-7' as const, recipients };
}

function run(file: string): void {
  const outbox = SqliteOutbox.open(file);
  outbox.enqueue(batch(CRASH_BATCH.id, Array.from({ length: CRASH_BATCH.size }, (_, i) => crashBatchRecipient(i))));
  const claimed = [
    outbox.claim('goip01', outbox.nextSendId('goip01'), 1, 10),
    outbox.claim('goip02', outbox.nextSendId('goip02'), 1, 10),
    outbox.claim('goip01', outbox.nextSendId('goip01'), 11, 5),
  ].flat();
  const report: ChildMessage = {
    type: 'committed',
    claimed: claimed.map(({ messageId, line, sendId, telId }) => ({ messageId, line, sendId, telId })),
  };
  process.send!(report);

  let round = 0;
  const churn = (): void => {
    const batchId = `churn-${round}`;
    const recipients = Array.from({ length: CHURN_BATCH_SIZE }, (_, i) => ({ messageId: churnMessageId(round, i), number: `+1555${i}` }));
    outbox.enqueue(batch(batchId, recipients));
    const [first] = outbox.claim('goip03', outbox.nextSendId('goip03'), 1, CHURN_CLAIM, batchId);
    outbox.markSent(first.messageId, round, '2024-05-01');
    round++;
    if (round === CHURN_ROUNDS_BEFORE_KILL) process.send!({ type: 'churning', rounds: round } satisfies ChildMessage);
    setImmediate(churn);
  };
  churn();
}

if (require.main === module) run(process.argv[2]);
