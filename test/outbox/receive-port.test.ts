/**
 * The receive path's store port over the SQLite store: a commit's writes in one transaction (rows
 * with their inboxIds in order, held parts, takes, delivery states), settled once synced; a
 * commit that cannot be written rejects and leaves nothing; a delivery state for a send that is
 * gone is told, not fatal; the reads answer in the same turn.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GoipEvent } from '../../src/link';
import { SqliteOutbox } from '../../src/outbox';
import { receivePortOf } from '../../src/outbox/receive-port';
import type { InboxRecord, InboxWrites } from '../../src/outbox/types';

function record(text: string): InboxRecord {
  const event = { event: 'sms', line: 'l1', from: '+4930111', payload: text, receivedAt: 1, fields: {} } as unknown as GoipEvent;
  return { kind: 'sms', line: 'l1', sender: '+4930111', text, receivedAt: 1, parts: 1, messageId: null, status: null, event, reportKey: 7, handed: false };
}

const writes = (over: Partial<InboxWrites> = {}): InboxWrites => ({ records: [], held: [], deliveries: [], takes: { done: [], partial: [] }, ...over });

describe('receive store port', () => {
  let dir: string;
  let outbox: SqliteOutbox;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-rport-'));
    outbox = SqliteOutbox.open(path.join(dir, 'store.db'));
  });
  afterEach(() => {
    outbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a commit in one transaction, synced once, and answers with the inboxIds in order', async () => {
    const warnings: unknown[] = [];
    const port = receivePortOf(outbox, (err) => warnings.push(err));
    const part = { line: 'l1', from: '+4930222', event: { event: 'sms', line: 'l1', payload: 'part' } as GoipEvent, heldAt: 5 };
    // The commits sync off the event loop: count the threadpool's fdatasync calls.
    const realSync = fs.fdatasync;
    const syncs = { count: 0 };
    (fs as { fdatasync: typeof fs.fdatasync }).fdatasync = ((fd: number, done: (err: NodeJS.ErrnoException | null) => void) => {
      syncs.count++;
      realSync(fd, done);
    }) as typeof fs.fdatasync;
    try {
      const first = await port.commit(writes({ records: [record('a'), record('b')], held: [{ hold: part }] }));
      assert.deepEqual(first, { inboxIds: [1, 2], syncError: null });
      assert.equal(syncs.count, 1);
      const second = await port.commit(
        writes({ records: [record('c')], held: [{ release: { line: 'l1', from: '+4930222' } }], takes: { done: [1], partial: [{ inboxId: 2, nodeId: 'n1' }] }, deliveries: [{ messageId: 'gone', tpStatus: 0, at: 9 }] }),
      );
      assert.deepEqual(second.inboxIds, [3]);
      assert.equal(syncs.count, 2);
    } finally {
      (fs as { fdatasync: typeof fs.fdatasync }).fdatasync = realSync;
    }
    assert.deepEqual(outbox.heldParts().all(), []);
    const log = outbox.inbox();
    assert.deepEqual(log.takesOf(2), ['n1']);
    assert.deepEqual(log.untaken('n2', { kinds: null, line: null }, 0, 10).map((m) => m.inboxId), [2, 3]);
    assert.match(String(warnings[0]), /no recipient with messageId gone/);
  });

  it('rejects a commit that cannot be written, and leaves none of it', async () => {
    const port = receivePortOf(outbox, () => undefined);
    const bad = record('x');
    (bad as { kind: string }).kind = 'neither'; // refused by the table's CHECK
    await assert.rejects(port.commit(writes({ records: [record('ok'), bad] })), /CHECK constraint/);
    assert.deepEqual(outbox.inbox().query({ limit: 10 }).rows, []);
  });

  it('answers the reads in the same turn', async () => {
    const port = receivePortOf(outbox, () => undefined);
    outbox.enqueue({ batchId: 'b', text: 'hi', line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients: [{ messageId: 'm1', number: '+4930111' }] });
    const [claimed] = outbox.claim('l1', 1, 1, 1);
    outbox.markSent(claimed.messageId, 12, '2026-12-07');
    const order: string[] = [];
    const reads = Promise.all([port.lastSentToEach([{ number: '+4930111', since: 0 }]).then(([sent]) => sent), port.deliverySend('l1', 12, 60_000, Date.now())]).then((answers) => {
      order.push('answered');
      return answers;
    });
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        order.push('next turn');
        resolve();
      }),
    );
    assert.deepEqual(order, ['answered', 'next turn'], 'settled within this turn');
    const [sent, messageId] = await reads;
    assert.equal(sent?.messageId, 'm1');
    assert.equal(messageId, 'm1');
  });
});
