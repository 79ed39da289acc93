/**
 * The operator's queue in the outbox: claim order by priority, sendAt, expiry, cancel,
 * retry, the block list, status counts, the schema migration and the indexes of the delivery
 * lookups. The same cases run on the SQLite store and on the in-memory double.
 */
import assert from 'node:assert/strict';
import { SqliteOutbox, type NewBatch, type Outbox } from '../../src/outbox';
import { migrate } from '../../src/outbox/schema';
import { openConnection } from '../../src/outbox/sqlite-driver';
import { LATEST_SENT_BY_SMS_NO, SENT_IN_WINDOW } from '../../src/outbox/statements';
import { MemoryOutbox } from '../helpers/memory-outbox';

const T0 = 1_700_000_000_000;

function batch(batchId: string, size: number, extra: Partial<NewBatch> = {}): NewBatch {
  return {
    batchId,
    text: `text of ${batchId}`,
    line: null,
    nodeId: 'send1',
    meta: {},
    segments: 1,
    encoding: 'GSM-7',
    recipients: Array.from({ length: size }, (_, i) => ({ messageId: `${batchId}-${i}`, number: `+861380013${String(i).padStart(4, '0')}` })),
    ...extra,
  };
}

const STORES: Array<[string, (now: () => number) => Outbox]> = [
  ['SQLite', (now) => SqliteOutbox.open(':memory:', { now })],
  ['memory double', (now) => new MemoryOutbox(now)],
];

for (const [name, open] of STORES) describe(`outbox queue (${name})`, () => {
  let clock: number;
  let outbox: Outbox;
  beforeEach(() => {
    clock = T0;
    outbox = open(() => clock);
  });
  afterEach(() => outbox.close());

  const ids = (list: Array<{ messageId: string }>): string[] => list.map((r) => r.messageId);

  it('claims high before normal before low, in enqueue order within a priority', () => {
    outbox.enqueue(batch('low', 1, { priority: 'low' }));
    outbox.enqueue(batch('normal', 1));
    outbox.enqueue(batch('high1', 1, { priority: 'high' }));
    outbox.enqueue(batch('high2', 1, { priority: 'high' }));
    const order = [1, 2, 3, 4].map((sendId) => ids(outbox.claim('goip01', sendId, 1, 5))[0]);
    assert.deepEqual(order, ['high1-0', 'high2-0', 'normal-0', 'low-0']);
  });

  it("stops a session's batch while higher-priority work waits for its line, and claims only up to `lowest`", () => {
    outbox.enqueue(batch('normal', 3));
    assert.deepEqual(ids(outbox.claim('goip01', 1, 1, 1, 'normal')), ['normal-0']);
    outbox.enqueue(batch('pinnedElsewhere', 1, { priority: 'high', line: 'goip02' }));
    assert.deepEqual(ids(outbox.claim('goip01', 1, 2, 1, 'normal')), ['normal-1'], 'work for another line does not stop it');
    outbox.enqueue(batch('urgent', 1, { priority: 'high' }));
    assert.deepEqual(outbox.claim('goip01', 1, 3, 1, 'normal'), []);
    assert.deepEqual(outbox.claim('goip01', 2, 1, 1, undefined, 'high').map((r) => r.batchId), ['urgent']);
    assert.deepEqual(outbox.claim('goip01', 3, 1, 1, undefined, 'high'), [], 'only high inside quiet hours');
    assert.deepEqual(ids(outbox.claim('goip01', 1, 3, 1, 'normal')), ['normal-2']);
  });

  it('claims nothing of a batch before its sendAt and tells when it becomes due', () => {
    outbox.enqueue(batch('later', 2, { sendAt: T0 + 5000 }));
    assert.deepEqual(outbox.claim('goip01', 1, 1, 5), []);
    assert.equal(outbox.queue.nextTimedAt(), T0 + 5000);
    clock = T0 + 4999;
    assert.deepEqual(outbox.claim('goip01', 1, 1, 5), []);
    clock = T0 + 5000;
    assert.deepEqual(ids(outbox.claim('goip01', 1, 1, 5)), ['later-0', 'later-1']);
    assert.equal(outbox.queue.nextTimedAt(), null);
  });

  it('expires queued recipients once expiresAt passed, never a claimed one', () => {
    outbox.enqueue(batch('short', 3, { expiresAt: T0 + 1000 }));
    assert.deepEqual(ids(outbox.claim('goip01', 1, 1, 1)), ['short-0']);
    assert.equal(outbox.queue.nextTimedAt(), T0 + 1000);
    assert.deepEqual(outbox.queue.expireDue(), []);
    clock = T0 + 1000;
    assert.deepEqual(outbox.claim('goip01', 2, 1, 5), [], 'an expired one is not claimed even before the sweep');
    const expired = outbox.queue.expireDue();
    assert.deepEqual(ids(expired), ['short-1', 'short-2']);
    assert.ok(expired.every((r) => r.state === 'expired' && r.line === null && /expired/.test(r.error ?? '')));
    assert.equal(outbox.get('short-0')?.state, 'claimed');
    assert.equal(outbox.queue.nextTimedAt(), null);
  });

  it('cancels the queued recipients of a batch or one message, counting those in flight', () => {
    outbox.enqueue(batch('b', 4));
    outbox.claim('goip01', 1, 1, 1);
    const answer = outbox.queue.cancel({ batchId: 'b' });
    assert.deepEqual(ids(answer?.cancelled ?? []), ['b-1', 'b-2', 'b-3']);
    assert.equal(answer?.inFlight, 1);
    assert.ok(answer?.cancelled.every((r) => r.state === 'cancelled'));
    assert.deepEqual(outbox.claim('goip01', 2, 1, 5), []);
    assert.deepEqual(outbox.queue.cancel({ batchId: 'b' }), { cancelled: [], inFlight: 1 }, 'a second cancel finds nothing left');
    assert.deepEqual(outbox.queue.cancel({ messageId: 'b-0' }), { cancelled: [], inFlight: 1 });
    outbox.enqueue(batch('c', 2));
    assert.deepEqual(ids(outbox.queue.cancel({ messageId: 'c-1' })?.cancelled ?? []), ['c-1']);
    assert.equal(outbox.get('c-0')?.state, 'queued');
    assert.equal(outbox.queue.cancel({ batchId: 'nope' }), null);
    assert.equal(outbox.queue.cancel({ messageId: 'nope' }), null);
  });

  it('retries failed and expired recipients as new attempts without expiry', () => {
    outbox.enqueue(batch('r', 3, { expiresAt: T0 + 1000 }));
    const [first] = outbox.claim('goip01', 1, 1, 1);
    outbox.markFailed(first.messageId, 'radio failed');
    const [second] = outbox.claim('goip01', 2, 1, 1);
    outbox.markSent(second.messageId, 5, '2023-11-14');
    clock = T0 + 2000;
    outbox.queue.expireDue();
    assert.deepEqual(outbox.queue.retry('r'), { queued: 2, blocked: [] });
    assert.deepEqual([0, 1, 2].map((i) => outbox.get(`r-${i}`)?.state), ['queued', 'sent', 'queued']);
    assert.equal(outbox.get('r-0')?.error, null);
    assert.equal(outbox.get('r-0')?.attempts, 1, 'attempts so far are kept; the next claim adds one');
    assert.deepEqual(ids(outbox.claim('goip02', 3, 1, 5)), ['r-0', 'r-2'], 'claimable again, its expiry gone');
    assert.equal(outbox.queue.retry('nope'), null);
  });

  it('blocks numbers in any form: queued ones end blocked now, new ones at enqueue, until unblocked', () => {
    outbox.enqueue(batch('q', 2));
    const ended = outbox.queue.block(['013800130001'], { keyword: 'STOP', line: 'goip02' });
    assert.deepEqual(ids(ended), ['q-1']);
    assert.equal(ended[0].state, 'blocked');
    assert.deepEqual(outbox.queue.blocked(), [{ number: '013800130001', keyword: 'STOP', line: 'goip02', blockedAt: T0 }]);
    assert.deepEqual(outbox.queue.block(['+8613800130001']), [], 'the same subscriber is not listed twice');
    assert.equal(outbox.queue.blocked().length, 1);
    const atEnqueue = outbox.enqueue(batch('later', 3));
    assert.deepEqual(ids(atEnqueue), ['later-1']);
    assert.equal(outbox.queuedCount(), 3);
    assert.equal(outbox.queue.unblock(['8613800130001']), 1);
    assert.deepEqual(outbox.queue.blocked(), []);
    assert.deepEqual(outbox.enqueue(batch('after', 2)), []);
  });

  it('counts recipients per state, per line and per open batch', () => {
    outbox.enqueue(batch('a', 3, { priority: 'high', sendAt: T0 }));
    outbox.enqueue(batch('b', 2));
    const [a0] = outbox.claim('goip01', 1, 1, 1);
    outbox.markSent(a0.messageId, 1, '2023-11-14');
    outbox.claim('goip02', 2, 1, 1);
    outbox.queue.cancel({ batchId: 'b' });
    const all = outbox.queue.status();
    assert.deepEqual({ ...all, byLine: undefined, batches: undefined }, { queued: 1, claimed: 1, sent: 1, failed: 0, expired: 0, cancelled: 2, blocked: 0, byLine: undefined, batches: undefined });
    assert.deepEqual(all?.byLine, {
      goip01: { queued: 0, claimed: 0, sent: 1, failed: 0, expired: 0, cancelled: 0, blocked: 0 },
      goip02: { queued: 0, claimed: 1, sent: 0, failed: 0, expired: 0, cancelled: 0, blocked: 0 },
    });
    assert.deepEqual(all?.batches, [{ batchId: 'a', priority: 'high', sendAt: T0, createdAt: T0, count: 3, queued: 1, claimed: 1, sent: 1, failed: 0, expired: 0, cancelled: 0, blocked: 0 }]);
    const b = outbox.queue.status('b');
    assert.equal(b?.cancelled, 2);
    assert.equal(b?.batches[0].batchId, 'b');
    assert.equal(outbox.queue.status('nope'), null);
  });

  it('purges expired, cancelled and blocked recipients like sent and failed ones', () => {
    outbox.enqueue(batch('x', 3, { expiresAt: T0 + 10 }));
    outbox.queue.block(['+8613800130002']);
    outbox.queue.cancel({ messageId: 'x-1' });
    clock = T0 + 10;
    outbox.queue.expireDue();
    assert.equal(outbox.purge(1000, T0 + 1011), 3);
    assert.equal(outbox.queue.status()?.batches.length, 0);
  });
});

describe('outbox queue schema (SQLite)', () => {
  it('migrates a version-1 store: rows kept, normal priority, the new states allowed', () => {
    const { db } = openConnection(':memory:');
    // The tables of migration 1, filled as the previous release left them.
    db.exec(`
      CREATE TABLE batches (seq INTEGER PRIMARY KEY, batch_id TEXT NOT NULL UNIQUE, text TEXT NOT NULL, line TEXT, node_id TEXT NOT NULL,
        meta TEXT NOT NULL, segments INTEGER NOT NULL, encoding TEXT NOT NULL, recipient_count INTEGER NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE recipients (message_id TEXT PRIMARY KEY, batch_seq INTEGER NOT NULL REFERENCES batches (seq), idx INTEGER NOT NULL,
        number TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'sent', 'failed')), line TEXT, send_id INTEGER,
        tel_id INTEGER, sms_no INTEGER, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, excluded_lines TEXT NOT NULL DEFAULT '[]',
        delivery_state INTEGER, delivered_at INTEGER, sent_at INTEGER, updated_at INTEGER NOT NULL, UNIQUE (batch_seq, idx));
      CREATE INDEX recipients_by_state ON recipients (state, batch_seq, idx);
      CREATE INDEX recipients_sent_by_sms_no ON recipients (line, sms_no, sent_at) WHERE state = 'sent';
      CREATE TABLE line_usage (line TEXT NOT NULL, day TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (line, day)) WITHOUT ROWID;
      CREATE TABLE send_ids (line TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO batches VALUES (1, 'old', 'hi', NULL, 'send1', '{}', 1, 'GSM-7', 2, ${T0});
      INSERT INTO recipients (message_id, batch_seq, idx, number, state, line, send_id, tel_id, sms_no, attempts, sent_at, updated_at)
        VALUES ('old-0', 1, 0, '+8613800138000', 'sent', 'goip01', 7, 1, 42, 1, ${T0}, ${T0}),
               ('old-1', 1, 1, '+8613800138001', 'queued', NULL, NULL, NULL, NULL, 0, NULL, ${T0});
      PRAGMA user_version = 1;`);
    migrate(db);
    const rows = db.prepare<{ message_id: string; state: string; priority: number; sms_no: number | null }>(
      'SELECT message_id, state, priority, sms_no FROM recipients ORDER BY message_id',
    ).all();
    assert.deepEqual(rows, [
      { message_id: 'old-0', state: 'sent', priority: 1, sms_no: 42 },
      { message_id: 'old-1', state: 'queued', priority: 1, sms_no: null },
    ]);
    db.prepare(`UPDATE recipients SET state = 'cancelled' WHERE message_id = 'old-1'`).run();
    const indexes = db.prepare<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'recipients' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all();
    assert.deepEqual(indexes.map((i) => i.name), [
      'recipients_by_state',
      'recipients_claim_order',
      'recipients_expiry',
      'recipients_final_by_age',
      'recipients_sent_by_number',
      'recipients_sent_by_sms_no',
      'recipients_sent_by_time',
      'recipients_unreported',
    ]);
    db.close();
  });

  it('answers the DELIVER (sms_no) and +CDS (send time) lookups from an index, not a scan of the sent rows', () => {
    const outbox = SqliteOutbox.open(':memory:');
    const { db } = outbox as unknown as { db: ReturnType<typeof openConnection>['db'] };
    const plan = (sql: string): string =>
      db.prepare<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all({ line: 'goip01', smsNo: 1, since: 0, from: 0, to: 1 }).map((row) => row.detail).join(' | ');
    const deliver = plan(LATEST_SENT_BY_SMS_NO);
    const cds = plan(SENT_IN_WINDOW);
    assert.match(deliver, /SEARCH recipients USING INDEX recipients_sent_by_sms_no \(line=\? AND sms_no=\? AND sent_at>\?\)/, deliver);
    assert.match(cds, /SEARCH recipients USING INDEX recipients_sent_by_time \(line=\? AND sent_at>\? AND sent_at<\?\)/, cds);
    outbox.close();
  });
});
