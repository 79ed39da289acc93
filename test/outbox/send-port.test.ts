/** The send engine's store port over a synchronous Outbox: settled Promises, one sync per commit. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sendPortOf, SqliteOutbox } from '../../src/outbox';
import { MemoryOutbox } from '../helpers/memory-outbox';
import { countSyncs } from '../helpers/sync-count';

const BATCH = {
  batchId: 'b1', text: 'hi', line: null, nodeId: 'n1', meta: {}, segments: 1, encoding: 'GSM-7' as const,
  recipients: [{ messageId: 'm1', number: '+4930001' }, { messageId: 'm2', number: '+4930002' }],
};

describe('send store port', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-port-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('answers the SQLite store\'s calls in the same turn and syncs their commits once, at durable()', async () => {
    const outbox = SqliteOutbox.open(path.join(dir, 'store.db'));
    const syncs = countSyncs();
    try {
      outbox.enqueue(BATCH);
      const port = sendPortOf(outbox);
      const sendId = await port.nextSendId('goip01');
      const claimed = await port.claim('goip01', sendId, 1, 2);
      await port.markSent('m1', 5, '2026-12-07');
      assert.deepEqual(claimed.map((r) => r.messageId), ['m1', 'm2']);
      assert.equal(syncs.count, 0, 'the commits wait for durable()');
      await port.durable();
      assert.equal(syncs.count, 1, 'one sync for the three commits');
      assert.equal((await port.get('m1'))?.state, 'sent');
      assert.equal(await port.queuedCount(), 0);
      await port.durable();
      assert.equal(syncs.count, 1);
    } finally {
      syncs.restore();
      outbox.close();
    }
  });

  it('turns a throwing call into a rejection, and is durable call by call over any other Outbox', async () => {
    const outbox = new MemoryOutbox();
    const port = sendPortOf(outbox);
    await assert.rejects(port.markSent('nobody', 1, '2026-12-07'), /nobody|no recipient/);
    await port.durable();
    outbox.enqueue(BATCH);
    assert.equal((await port.claim('goip01', 3, 1, 1)).length, 1);
  });
});
