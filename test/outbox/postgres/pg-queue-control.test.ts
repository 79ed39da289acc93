/**
 * The operator's queue and the result log on a real PostgreSQL: the same answers as the SQLite
 * store for the same calls (one script run on both), and a goip-send's untaken results there for
 * any instance.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { openPool } from '../../../src/outbox/postgres/pg-pool';
import { LinePresence } from '../../../src/outbox/postgres/pg-presence';
import { PgQueue } from '../../../src/outbox/postgres/pg-queue';
import { PgQueueControl, PgResultLog } from '../../../src/outbox/postgres/pg-queue-control';
import { migratePg } from '../../../src/outbox/postgres/pg-schema';
import { sendPortOf } from '../../../src/outbox/send-port';
import { SqliteOutbox } from '../../../src/outbox/sqlite-outbox';
import type { Asynchronous, NewBatch, QueueControl, Recipient, ResultLog, SendStore } from '../../../src/outbox/types';
import { PgCluster } from '../../helpers/postgres';

const T0 = 1_765_000_000_000;

function batch(batchId: string, count: number, extra: Partial<NewBatch> = {}): NewBatch {
  return {
    batchId,
    text: `text of ${batchId}`,
    line: null,
    nodeId: extra.nodeId ?? 'send1',
    meta: { _msgid: `m-${batchId}` },
    segments: 1,
    encoding: 'GSM-7',
    recipients: Array.from({ length: count }, (_, i) => ({ messageId: `${batchId}-${i}`, number: `+49301234${String(i).padStart(4, '0')}` })),
    ...extra,
  };
}

/** Answers without what differs by design (when a row changed). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'updatedAt' ? undefined : v)));
}

interface Store {
  port: SendStore;
  queue: Asynchronous<QueueControl>;
  results: Asynchronous<ResultLog>;
  enqueue: (b: NewBatch) => Promise<Recipient[]>;
  purge: (olderThanMs: number, now: number) => Promise<number>;
}

describe('postgres store: the operator queue and the result log', function () {
  this.timeout(60_000);
  let cluster: PgCluster;
  let pool: pg.Pool | null = null;

  before(async function () {
    cluster = await PgCluster.startFor(this);
  });
  after(async () => {
    await pool?.end();
    cluster?.stop();
  });

  it('answers the operator and goip-send as the SQLite store does, call for call', async () => {
    let now = T0;
    const clock = (): number => now;
    pool = openPool({ connectionString: cluster.createDatabase('control') });
    await migratePg(pool, 'goip');
    await new LinePresence(pool, 'a', 30_000, clock).renew(['l1']);
    const sqlite = SqliteOutbox.open(':memory:', { now: clock });
    const sqliteStore: Store = {
      port: sendPortOf(sqlite),
      queue: {
        status: async (batchId) => sqlite.queue.status(batchId),
        cancel: async (target) => sqlite.queue.cancel(target),
        retry: async (batchId) => sqlite.queue.retry(batchId),
        block: async (numbers, source) => sqlite.queue.block(numbers, source),
        unblock: async (numbers) => sqlite.queue.unblock(numbers),
        blocked: async () => sqlite.queue.blocked(),
        expireDue: async () => sqlite.queue.expireDue(),
        nextTimedAt: async () => sqlite.queue.nextTimedAt(),
      },
      results: { unreported: async (...args) => sqlite.results.unreported(...args), taken: async (ids) => sqlite.results.taken(ids) },
      enqueue: async (b) => sqlite.enqueue(b),
      purge: async (olderThanMs, at) => sqlite.purge(olderThanMs, at),
    };
    const pgQueue = new PgQueue(pool, { instance: 'a', leaseMs: 30_000, now: clock });
    const control = new PgQueueControl(pool, clock);
    const pgStore: Store = {
      port: pgQueue,
      queue: control,
      results: new PgResultLog(pool, clock),
      enqueue: (b) => pgQueue.enqueue(b),
      purge: (olderThanMs, at) => control.purge(olderThanMs, at),
    };

    const answers: unknown[][] = [];
    for (const { port, queue, results, enqueue, purge } of [sqliteStore, pgStore]) {
      now = T0;
      const said: unknown[] = [];
      answers.push(said);
      const note = (label: string, value: unknown): void => void said.push([label, plain(value)]);
      await enqueue(batch('one', 6));
      await enqueue(batch('two', 3, { priority: 'high', nodeId: 'send2' }));
      await enqueue(batch('later', 2, { sendAt: T0 + 60_000, expiresAt: T0 + 120_000 }));
      now += 1_000;
      const claimed = await port.claim('l1', 5, 1, 3, undefined, 'low');
      await port.markSent(claimed[0].messageId, 7, '2025-12-06');
      await port.markFailed(claimed[1].messageId, 'radio said no');
      const more = await port.claim('l1', 6, 1, 3, undefined, 'low');
      await port.markSent(more[0].messageId, 8, '2025-12-06');
      await port.markFailed(more[1].messageId, 'radio said no');
      note('status', await queue.status());
      note('status of one', await queue.status('one'));
      note('status of nothing', await queue.status('nope'));
      note('block', await queue.block(['+4930 1234 0004', '+49301234'], { keyword: 'STOP', line: 'l1' }));
      note('block again', await queue.block(['004930 12340004']));
      note('blocked', await queue.blocked());
      note('cancel one message', await queue.cancel({ messageId: 'one-5' }));
      note('cancel a claimed one', await queue.cancel({ messageId: more[2].messageId }));
      note('cancel later', await queue.cancel({ batchId: 'later' }));
      note('cancel nothing', await queue.cancel({ batchId: 'nope' }));
      note('retry two', await queue.retry('two'));
      note('retry one', await queue.retry('one'));
      note('unblock', await queue.unblock(['+49 30 1234 0004']));
      note('blocked after', await queue.blocked());
      now = T0 + 200_000;
      note('expire', await queue.expireDue());
      note('next timed', await queue.nextTimedAt());
      const first = await results.unreported('send2', null, 1);
      note('unreported page 1', first);
      note('unreported page 2', await results.unreported('send2', first.next, 1));
      note('unreported send1', await results.unreported('send1', null, 10));
      await results.taken(first.recipients.map((r) => r.messageId));
      note('unreported after taken', await results.unreported('send2', null, 10));
      note('final status', await queue.status());
      note('purged', await purge(100_000, T0 + 250_000));
      note('status after the purge', await queue.status());
    }
    sqlite.close();
    assert.deepEqual(answers[1], answers[0]);
    assert.ok(JSON.stringify(answers[0]).includes('"cancelled"'), 'the script reached the operator calls');
  });
});
