/** Sticky lines: a number keeps to the line that last sent to it, while that line may send. */
import assert from 'node:assert/strict';
import { SqliteOutbox } from '../../src/outbox/sqlite-outbox';
import type { NewBatch, Recipient } from '../../src/outbox/types';
import { type FleetRig, numbers, startFleetRig } from '../helpers/fleet-rig';

const STICKY_MS = 30 * 86_400_000;
const DAY = '2026-12-07';

function stickyBatch(batchId: string, to: readonly string[], stickyMs: number | null = STICKY_MS): NewBatch {
  return {
    batchId, text: `text of ${batchId}`, line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7',
    recipients: to.map((number, i) => ({ messageId: `${batchId}-${i}`, number, stickyMs: stickyMs ?? undefined })),
  };
}

describe('sticky lines', function () {
  this.timeout(60_000);

  describe('in the store', () => {
    let now = 1_765_000_000_000;
    let outbox: SqliteOutbox;
    beforeEach(() => {
      outbox = SqliteOutbox.open(':memory:', { now: () => now });
    });
    afterEach(() => outbox.close());

    function sendOn(line: string, batchId: string, to: string): void {
      outbox.enqueue(stickyBatch(batchId, [to], null));
      const [claimed] = outbox.claim(line, 1, 1, 1, batchId);
      outbox.markSent(claimed.messageId, 1, DAY);
    }

    it('waits for the number’s line while it may send, and takes another when it may not', () => {
      sendOn('l1', 'first', '+4930123400');
      outbox.enqueue(stickyBatch('again', ['+4930123400', '+4930123401']));
      const take = (line: string, available: string[]): string[] =>
        outbox.claim(line, 2, 1, 5, undefined, 'low', undefined, undefined, available).map((r: Recipient) => r.number);
      assert.deepEqual(take('l2', ['l1', 'l2']), ['+4930123401'], 'the number of l1 waits for it');
      assert.deepEqual(take('l1', ['l1', 'l2']), ['+4930123400']);
      outbox.enqueue(stickyBatch('offline', ['+4930123400']));
      assert.deepEqual(take('l2', ['l2']), ['+4930123400'], 'l1 may not send: l2 takes it');
    });

    it('a personalised batch claimed without a text takes the text of the first recipient the line may send', () => {
      sendOn('l1', 'first', '+4930123400');
      const own = (text: string) => ({ text, segments: 1, encoding: 'GSM-7' as const });
      const batch = stickyBatch('personal', ['+4930123400', '+4930123401']);
      batch.recipients = batch.recipients.map((r, i) => ({ ...r, ...own(`Hi ${i}`) }));
      outbox.enqueue(batch);
      const [taken] = outbox.claim('l2', 2, 1, 2, undefined, 'low', undefined, undefined, ['l1', 'l2']);
      assert.deepEqual([taken?.number, taken?.text], ['+4930123401', 'Hi 1'], 'the first recipient waits for l1: its text is not l2’s');
    });

    it('forgets a line after the window, and a recipient that is not sticky goes anywhere', () => {
      sendOn('l1', 'first', '+4930123400');
      outbox.enqueue(stickyBatch('plain', ['+4930123400'], null));
      assert.equal(outbox.claim('l2', 2, 1, 5, undefined, 'low', undefined, undefined, ['l1', 'l2']).length, 1);
      now += STICKY_MS + 1;
      outbox.enqueue(stickyBatch('late', ['+4930123400']));
      assert.equal(outbox.claim('l2', 3, 1, 5, undefined, 'low', undefined, undefined, ['l1', 'l2']).length, 1);
    });
  });

  describe('on simulated lines', () => {
    let rig: FleetRig | null = null;
    afterEach(async () => {
      await rig?.stop();
      rig = null;
    });

    it('20 numbers over 4 lines, then again: each number on its first line both times', async () => {
      rig = await startFleetRig({ working: 4, sim: { smsRadioTimeMs: 5 } });
      const to = numbers('4930', 20);
      const linesOf = async (batchId: string): Promise<Map<string, string>> => {
        const results = rig!.results(to.length);
        rig!.outbox.enqueue(stickyBatch(batchId, to));
        rig!.sender.kick();
        const done = await results;
        assert.deepEqual(done.map((r) => r.state), to.map(() => 'sent'));
        return new Map(done.map((r) => [r.number, r.line as string]));
      };
      const first = await linesOf('round1');
      const second = await linesOf('round2');
      assert.ok(new Set(first.values()).size >= 2, `spread over the lines: ${[...new Set(first.values())]}`);
      for (const number of to) assert.equal(second.get(number), first.get(number), number);
      assert.deepEqual(rig.ledger.duplicates(), []);
    });
  });
});
