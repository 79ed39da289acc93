import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteOutbox, SqliteUnavailableError, type NewBatch } from '../../src/outbox';
import { SCHEMA_VERSION } from '../../src/outbox/schema';
import { type Connection, openConnection, SQLITE_DRIVER_ENV } from '../../src/outbox/sqlite-driver';
import {
  CHURN_BATCH_SIZE,
  CHURN_CLAIM,
  CRASH_BATCH,
  churnMessageId,
  crashBatchRecipient,
  type ChildMessage,
} from '../helpers/outbox-crash-child';
import { NODE_SQLITE_BUILT_IN, withoutDrivers } from '../helpers/sqlite';

/**
 * The outbox on the driver GOIP_SQLITE_DRIVER names, else on the first that loads; a second run
 * under Node 22 forces node:sqlite (test/outbox/node-sqlite.test.ts).
 */
const DRIVER = process.env[SQLITE_DRIVER_ENV] ?? 'better-sqlite3';

/** A raw connection of the same driver, to inspect or tamper with a store file behind the outbox's back. */
function rawConnection(file: string): Connection {
  return openConnection(file).db;
}

const HOUR = 3_600_000;

function newBatch(batchId: string, size: number, extra: Partial<NewBatch> = {}): NewBatch {
  return {
    batchId,
    text: `text of ${batchId}`,
    line: null,
    nodeId: 'send1',
    meta: { _msgid: `msg-${batchId}`, topic: 'promo' },
    segments: 1,
    encoding: 'GSM-7',
    recipients: Array.from({ length: size }, (_, i) => ({ messageId: `${batchId}-${i}`, number: `+3809600000${i}` })),
    ...extra,
  };
}

/** A unique store path in a not-yet-existing directory; `remove()` deletes the directory. */
function tempStore(): { file: string; remove: () => void } {
  const dir = path.join(os.tmpdir(), `goip-outbox-${process.pid}-${randomUUID()}`);
  return { file: path.join(dir, 'nested', 'outbox.db'), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe(`SqliteOutbox (${DRIVER})`, () => {
  let clock: number;
  let outbox: SqliteOutbox;

  beforeEach(() => {
    clock = 1_700_000_000_000;
    outbox = SqliteOutbox.open(':memory:', { now: () => clock });
  });
  afterEach(() => outbox.close());

  describe('enqueue / get', () => {
    it('stores every recipient of the batch, queued, with the batch fields', () => {
      outbox.enqueue(newBatch('b1', 3, { line: 'goip01', segments: 2, encoding: 'UCS-2' }));
      assert.equal(outbox.queuedCount(), 3);
      assert.deepEqual(outbox.get('b1-2'), {
        messageId: 'b1-2',
        batchId: 'b1',
        index: 2,
        count: 3,
        number: '+38096000002',
        text: 'text of b1',
        pinnedLine: 'goip01',
        nodeId: 'send1',
        meta: { _msgid: 'msg-b1', topic: 'promo' },
        segments: 2,
        encoding: 'UCS-2',
        state: 'queued',
        line: null,
        sendId: null,
        telId: null,
        smsNo: null,
        error: null,
        attempts: 0,
        excludedLines: [],
        group: '',
        deliveryState: null,
        deliveredAt: null,
        updatedAt: clock,
      });
    });

    it('returns undefined for an unknown messageId', () => {
      assert.equal(outbox.get('nope'), undefined);
    });

    it('stores nothing of a batch that fails half-way (one transaction)', () => {
      const batch = newBatch('b1', 3);
      batch.recipients[2].messageId = batch.recipients[0].messageId;
      assert.throws(() => outbox.enqueue(batch), /UNIQUE/);
      assert.equal(outbox.queuedCount(), 0);
      assert.equal(outbox.get('b1-0'), undefined);
      outbox.enqueue(newBatch('b1', 1)); // the batch id was not taken either
    });

    it('refuses a duplicate batch id', () => {
      outbox.enqueue(newBatch('b1', 1));
      assert.throws(() => outbox.enqueue(newBatch('b1', 1, { recipients: [{ messageId: 'other', number: '+1' }] })), /UNIQUE/);
      assert.equal(outbox.get('other'), undefined);
    });
  });

  describe('claim', () => {
    it('claims in index order with consecutive telIds, one attempt each', () => {
      outbox.enqueue(newBatch('b1', 5));
      const claimed = outbox.claim('goip01', 4711, 7, 3);
      assert.deepEqual(
        claimed.map((r) => [r.messageId, r.state, r.line, r.sendId, r.telId, r.attempts, r.count]),
        [
          ['b1-0', 'claimed', 'goip01', 4711, 7, 1, 5],
          ['b1-1', 'claimed', 'goip01', 4711, 8, 1, 5],
          ['b1-2', 'claimed', 'goip01', 4711, 9, 1, 5],
        ],
      );
      assert.equal(outbox.queuedCount(), 2);
      assert.equal(outbox.claimedCount(), 3);
      assert.deepEqual(outbox.claim('goip02', 1, 1, 10).map((r) => r.messageId), ['b1-3', 'b1-4']);
      assert.deepEqual(outbox.claim('goip02', 2, 1, 10), []);
    });

    it('takes the oldest batch first and never mixes batches in one claim', () => {
      outbox.enqueue(newBatch('b1', 2));
      outbox.enqueue(newBatch('b2', 2));
      assert.deepEqual(outbox.claim('goip01', 1, 1, 10).map((r) => r.messageId), ['b1-0', 'b1-1']);
      assert.deepEqual(outbox.claim('goip01', 2, 1, 10).map((r) => r.messageId), ['b2-0', 'b2-1']);
    });

    it('skips a batch pinned to another line; the pinned line takes it', () => {
      outbox.enqueue(newBatch('pinned', 2, { line: 'goip02' }));
      outbox.enqueue(newBatch('free', 1));
      assert.deepEqual(outbox.claim('goip01', 1, 1, 10).map((r) => r.messageId), ['free-0']);
      assert.deepEqual(outbox.claim('goip01', 2, 1, 10), []);
      assert.deepEqual(outbox.claim('goip02', 3, 1, 10).map((r) => r.messageId), ['pinned-0', 'pinned-1']);
    });

    it('skips recipients that exclude the line, even in an older batch', () => {
      outbox.enqueue(newBatch('b1', 2));
      outbox.enqueue(newBatch('b2', 1));
      outbox.claim('goip01', 1, 1, 2);
      outbox.requeue('b1-0', 'goip01');
      outbox.requeue('b1-1', 'goip01');
      assert.deepEqual(outbox.claim('goip01', 2, 1, 10).map((r) => r.messageId), ['b2-0']);
      assert.deepEqual(outbox.claim('goip02', 3, 1, 10).map((r) => [r.messageId, r.attempts]), [['b1-0', 2], ['b1-1', 2]]);
    });

    it('with a batchId claims only from that batch, still honouring pin and exclusions', () => {
      outbox.enqueue(newBatch('b1', 2));
      outbox.enqueue(newBatch('b2', 2));
      outbox.enqueue(newBatch('pinned', 1, { line: 'goip02' }));
      assert.deepEqual(outbox.claim('goip01', 1, 1, 10, 'b2').map((r) => r.messageId), ['b2-0', 'b2-1']);
      assert.deepEqual(outbox.claim('goip01', 2, 1, 10, 'pinned'), []);
      assert.deepEqual(outbox.claim('goip01', 3, 1, 10, 'unknown'), []);
      outbox.claim('goip01', 4, 1, 1, 'b1');
      outbox.requeue('b1-0', 'goip01');
      assert.deepEqual(outbox.claim('goip01', 5, 1, 10, 'b1').map((r) => r.messageId), ['b1-1']);
    });

    it('claims nothing for a limit of 0', () => {
      outbox.enqueue(newBatch('b1', 2));
      assert.deepEqual(outbox.claim('goip01', 1, 1, 0), []);
      assert.equal(outbox.queuedCount(), 2);
    });

    it('lists claimed recipients with their line, sendId and telId for resume', () => {
      outbox.enqueue(newBatch('b1', 4));
      outbox.claim('goip02', 20, 1, 2);
      outbox.claim('goip01', 10, 5, 2);
      outbox.markSent('b1-0', 1, '2024-05-01');
      assert.deepEqual(
        outbox.claimedRecipients().map((r) => [r.messageId, r.line, r.sendId, r.telId]),
        [
          ['b1-2', 'goip01', 10, 5],
          ['b1-3', 'goip01', 10, 6],
          ['b1-1', 'goip02', 20, 2],
        ],
      );
    });
  });

  describe('failUnsendable', () => {
    it('fails queued recipients pinned to a line no longer configured, or that excluded every configured line', () => {
      outbox.enqueue(newBatch('gone', 2, { line: 'goip09' }));
      outbox.enqueue(newBatch('kept', 1, { line: 'goip01' }));
      outbox.enqueue(newBatch('any', 3));
      outbox.claim('goip01', 1, 1, 2, 'any');
      outbox.requeue('any-0', 'goip01');
      outbox.requeue('any-1', 'goip01');
      outbox.claim('goip02', 2, 1, 2, 'any');
      outbox.markSent('any-0', 5, '2024-05-01');
      outbox.requeue('any-1', 'goip02'); // any-1 has tried both lines
      outbox.claim('goip09', 4, 1, 1, 'gone'); // a claimed one is the engine's to decide

      const failed = outbox.failUnsendable(['goip01', 'goip02']);
      assert.ok(failed.every((r) => r.state === 'failed'));
      assert.deepEqual(
        failed.map((r) => [r.messageId, r.error]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        [
          ['any-1', 'no configured line left that has not tried it'],
          ['gone-1', 'line goip09 is no longer configured (batch pinned to it)'],
        ],
      );
      assert.deepEqual(['any-0', 'any-2', 'kept-0', 'gone-0'].map((id) => outbox.get(id)?.state), ['sent', 'queued', 'queued', 'claimed']);
      assert.deepEqual(outbox.failUnsendable(['goip01', 'goip02']), [], 'nothing twice');
      assert.deepEqual(outbox.failUnsendable([]), [], 'no lines configured at all decides nothing');
      assert.equal(outbox.get('kept-0')?.state, 'queued');
    });
  });

  describe('markSent / markFailed / requeue', () => {
    beforeEach(() => {
      outbox.enqueue(newBatch('b1', 3));
      outbox.claim('goip01', 100, 1, 2);
    });

    it('markSent records smsNo (or null from old firmware) and leaves the claimed list', () => {
      clock += 1000;
      const sent = outbox.markSent('b1-0', 42, '2024-05-01');
      assert.deepEqual([sent.state, sent.smsNo, sent.line, sent.sendId, sent.telId, sent.updatedAt], ['sent', 42, 'goip01', 100, 1, clock]);
      assert.equal(outbox.markSent('b1-1', null, '2024-05-01').smsNo, null);
      assert.equal(outbox.claimedCount(), 0);
    });

    it('markSent on a sent recipient returns it unchanged (late duplicate OK)', () => {
      const first = outbox.markSent('b1-0', 42, '2024-05-01');
      clock += 1000;
      assert.deepEqual(outbox.markSent('b1-0', 43, '2024-05-01'), first);
    });

    it('markSent and markFailed need a claimed recipient', () => {
      assert.throws(() => outbox.markSent('b1-2', 1, '2024-05-01'), /markSent\(b1-2\) needs a claimed recipient, it is queued/);
      assert.throws(() => outbox.markFailed('b1-2', 'x'), /markFailed\(b1-2\) needs a claimed recipient, it is queued/);
      outbox.markFailed('b1-0', 'errorstatus:3');
      assert.throws(() => outbox.markSent('b1-0', 1, '2024-05-01'), /it is failed/);
      assert.throws(() => outbox.markFailed('b1-0', 'again'), /it is failed/);
      outbox.markSent('b1-1', 1, '2024-05-01');
      assert.throws(() => outbox.markFailed('b1-1', 'late'), /it is sent/);
      assert.throws(() => outbox.markSent('nope', 1, '2024-05-01'), /no recipient with messageId nope/);
    });

    it('markFailed records the reason', () => {
      const failed = outbox.markFailed('b1-0', 'GSM_LOGOUT');
      assert.deepEqual([failed.state, failed.error, failed.attempts], ['failed', 'GSM_LOGOUT', 1]);
    });

    it('requeue clears the claim, excludes the line and keeps attempts', () => {
      const requeued = outbox.requeue('b1-0', 'goip01');
      assert.deepEqual(
        [requeued.state, requeued.line, requeued.sendId, requeued.telId, requeued.attempts, requeued.excludedLines],
        ['queued', null, null, null, 1, ['goip01']],
      );
      outbox.claim('goip02', 200, 1, 1);
      const again = outbox.requeue('b1-0', 'goip02');
      assert.deepEqual([again.attempts, again.excludedLines], [2, ['goip01', 'goip02']]);
      assert.throws(() => outbox.requeue('b1-0', 'goip03'), /requeue\(b1-0\) needs a claimed recipient, it is queued/);
    });
  });

  describe('delivery reports', () => {
    function sendOne(batchId: string, line: string, smsNo: number | null): string {
      outbox.enqueue(newBatch(batchId, 1));
      const [recipient] = outbox.claim(line, 1, 1, 1, batchId);
      outbox.markSent(recipient.messageId, smsNo, '2024-05-01');
      return recipient.messageId;
    }

    it('correlates line + sms_no to the latest send within the window', () => {
      const old = sendOne('old', 'goip01', 7);
      clock += 2 * HOUR;
      const otherLine = sendOne('other', 'goip02', 7);
      assert.equal(outbox.correlateDelivery('goip01', 7, 6 * HOUR, clock)?.messageId, old);
      clock += HOUR;
      const recent = sendOne('recent', 'goip01', 7); // sms_no wrapped round to 7 again
      assert.equal(outbox.correlateDelivery('goip01', 7, 6 * HOUR, clock)?.messageId, recent);
      assert.equal(outbox.correlateDelivery('goip02', 7, 6 * HOUR, clock)?.messageId, otherLine);
      assert.equal(outbox.correlateDelivery('goip01', 8, 6 * HOUR, clock), null);
    });

    it('ignores sends older than the window (the window edge is inside)', () => {
      const id = sendOne('b', 'goip01', 3);
      const sentAt = clock;
      assert.equal(outbox.correlateDelivery('goip01', 3, HOUR, sentAt + HOUR)?.messageId, id);
      assert.equal(outbox.correlateDelivery('goip01', 3, HOUR, sentAt + HOUR + 1), null);
    });

    it('never matches a recipient that is not sent', () => {
      outbox.enqueue(newBatch('b', 1));
      outbox.claim('goip01', 1, 1, 1);
      outbox.markFailed('b-0', 'x');
      assert.equal(outbox.correlateDelivery('goip01', 0, HOUR, clock), null);
    });

    it('findSentTo finds the send of line + number nearest a time, numbers compared across formats', () => {
      const sendTo = (batchId: string, line: string, number: string): string => {
        outbox.enqueue(newBatch(batchId, 1, { recipients: [{ messageId: `${batchId}-0`, number }] }));
        return outbox.markSent(outbox.claim(line, 1, 1, 1, batchId)[0].messageId, null, '2024-05-01').messageId;
      };
      const start = clock;
      const first = sendTo('first', 'goip01', '+8613853176777');
      clock += 60_000;
      sendTo('other-number', 'goip01', '+8613853176778');
      sendTo('other-line', 'goip02', '+8613853176777');
      clock += 60_000;
      const second = sendTo('second', 'goip01', '013853176777');
      assert.equal(outbox.findSentTo('goip01', '+8613853176777', start + 10_000, 300_000)?.messageId, first);
      assert.equal(outbox.findSentTo('goip01', '8613853176777', start + 100_000, 300_000)?.messageId, second, 'nearest wins');
      assert.equal(outbox.findSentTo('goip01', '+13853176777', clock, 1000)?.messageId, second, 'the window is either side of `at`');
      assert.equal(outbox.findSentTo('goip01', '+8613853176777', start - 1001, 1000), null);
      assert.equal(outbox.findSentTo('goip03', '+8613853176777', start, HOUR), null);
      outbox.enqueue(newBatch('failed', 1, { recipients: [{ messageId: 'failed-0', number: '+447700900123' }] }));
      outbox.markFailed(outbox.claim('goip01', 1, 1, 1, 'failed')[0].messageId, 'x');
      assert.equal(outbox.findSentTo('goip01', '+447700900123', clock, HOUR), null, 'only sent recipients');
    });

    it('markDelivery stores the TP-Status and its time; a later report overwrites', () => {
      const id = sendOne('b', 'goip01', 5);
      const pending = outbox.markDelivery(id, 48, clock + 10);
      assert.deepEqual([pending.state, pending.deliveryState, pending.deliveredAt], ['sent', 48, clock + 10]);
      const delivered = outbox.markDelivery(id, 0, clock + 20);
      assert.deepEqual([delivered.deliveryState, delivered.deliveredAt], [0, clock + 20]);
      outbox.enqueue(newBatch('q', 1));
      assert.throws(() => outbox.markDelivery('q-0', 0, clock), /markDelivery\(q-0\) needs a sent recipient/);
    });
  });

  describe('line counters', () => {
    it('nextSendId starts in 1..9000 per line and increments', () => {
      const first = outbox.nextSendId('goip01');
      assert.ok(first >= 1 && first <= 9000, `first sendId ${first}`);
      assert.equal(outbox.nextSendId('goip01'), first + 1);
      assert.equal(outbox.nextSendId('goip01'), first + 2);
      const other = outbox.nextSendId('goip02');
      assert.ok(other >= 1 && other <= 9000);
      assert.equal(outbox.nextSendId('goip01'), first + 3);
    });

    it('markSent counts the line\'s day in the same commit, once per recipient', () => {
      outbox.enqueue(newBatch('b1', 4));
      outbox.claim('goip01', 1, 1, 2);
      outbox.claim('goip02', 2, 1, 1);
      assert.equal(outbox.sentToday('goip01', '2024-05-01'), 0);
      outbox.markSent('b1-0', 1, '2024-05-01');
      outbox.markSent('b1-0', 1, '2024-05-01'); // a late duplicate OK counts nothing
      outbox.markSent('b1-1', 2, '2024-05-02');
      outbox.markSent('b1-2', 3, '2024-05-01');
      assert.equal(outbox.sentToday('goip01', '2024-05-01'), 1);
      assert.equal(outbox.sentToday('goip01', '2024-05-02'), 1);
      assert.equal(outbox.sentToday('goip02', '2024-05-01'), 1);
    });
  });

  describe('transaction', () => {
    it('joins every call inside into one commit', () => {
      outbox.enqueue(newBatch('b1', 3));
      const claimed = outbox.transaction(() => [outbox.claim('goip01', outbox.nextSendId('goip01'), 1, 1), outbox.claim('goip02', outbox.nextSendId('goip02'), 1, 1)].flat());
      assert.deepEqual(claimed.map((r) => r.messageId), ['b1-0', 'b1-1']);
      assert.equal(outbox.claimedCount(), 2);
    });

    it('rolls every call back when the work throws', () => {
      outbox.enqueue(newBatch('b1', 3));
      assert.throws(() =>
        outbox.transaction(() => {
          outbox.claim('goip01', 1, 1, 2);
          throw new Error('boom');
        }),
      /boom/);
      assert.equal(outbox.queuedCount(), 3);
      assert.equal(outbox.claimedCount(), 0);
    });

    it('rolls back only a call inside that throws; the rest of the work commits', () => {
      outbox.enqueue(newBatch('b0', 1));
      outbox.transaction(() => {
        outbox.claim('goip01', 1, 1, 1);
        const broken = newBatch('b1', 2);
        broken.recipients[1].messageId = broken.recipients[0].messageId;
        assert.throws(() => outbox.enqueue(broken), /UNIQUE/);
        outbox.enqueue(newBatch('b1', 1)); // the failed enqueue took its batch row with it
      });
      assert.equal(outbox.claimedCount(), 1);
      assert.deepEqual([outbox.get('b1-0')?.state, outbox.get('b1-1')], ['queued', undefined]);
    });
  });

  describe('purge', () => {
    it('deletes final recipients older than the age, then batches left empty', () => {
      outbox.enqueue(newBatch('done', 2));
      outbox.enqueue(newBatch('mixed', 3));
      outbox.claim('goip01', 1, 1, 2, 'done');
      outbox.markSent('done-0', 1, '2024-05-01');
      outbox.markFailed('done-1', 'x');
      outbox.claim('goip01', 2, 1, 2, 'mixed');
      outbox.markSent('mixed-0', 2, '2024-05-01'); // mixed-1 stays claimed, mixed-2 queued
      const finishedAt = clock;
      clock += HOUR;
      outbox.claim('goip01', 3, 1, 1, 'mixed');
      outbox.markSent('mixed-2', 3, '2024-05-01'); // recent: kept

      assert.equal(outbox.purge(HOUR, finishedAt + HOUR), 0, 'the age bound is exclusive');
      assert.equal(outbox.purge(HOUR, finishedAt + HOUR + 1), 3);
      assert.deepEqual(['done-0', 'done-1', 'mixed-0', 'mixed-1', 'mixed-2'].map((id) => outbox.get(id)?.state), [undefined, undefined, undefined, 'claimed', 'sent']);
      assert.equal(outbox.get('mixed-1')?.count, 3, 'parts count survives a partial purge');
      outbox.enqueue(newBatch('done', 1)); // the empty batch row is gone, its id free again
      assert.equal(outbox.purge(0, clock + 10 * HOUR), 1, 'never queued or claimed recipients');
      assert.equal(outbox.claimedCount(), 1);
      assert.equal(outbox.queuedCount(), 1);
    });
  });

  describe('on disk', () => {
    let store: ReturnType<typeof tempStore>;
    beforeEach(() => (store = tempStore()));
    afterEach(() => store.remove());

    it('creates parent directories and keeps everything across close and reopen', () => {
      const first = SqliteOutbox.open(store.file);
      first.enqueue(newBatch('b1', 3, { line: 'goip01' }));
      first.claim('goip01', 77, 4, 2);
      first.markSent('b1-0', 9, '2024-05-01');
      const sendId = first.nextSendId('goip01');
      first.close();

      const reopened = SqliteOutbox.open(store.file);
      try {
        assert.deepEqual(reopened.claimedRecipients().map((r) => [r.messageId, r.line, r.sendId, r.telId]), [['b1-1', 'goip01', 77, 5]]);
        assert.deepEqual([reopened.get('b1-0')?.state, reopened.get('b1-0')?.smsNo], ['sent', 9]);
        assert.equal(reopened.queuedCount(), 1);
        assert.equal(reopened.sentToday('goip01', '2024-05-01'), 1);
        assert.equal(reopened.nextSendId('goip01'), sendId + 1);
      } finally {
        reopened.close();
      }
    });

    it('uses WAL and records the schema version', () => {
      SqliteOutbox.open(store.file).close();
      const db = rawConnection(store.file);
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(db.pragma('user_version', { simple: true }), 9);
        assert.equal(SCHEMA_VERSION, 9);
      } finally {
        db.close();
      }
    });

    it('sets WAL, synchronous=FULL and foreign keys on its connection', () => {
      const opened = SqliteOutbox.open(store.file);
      try {
        const { db } = opened as unknown as { db: Connection };
        assert.deepEqual(
          ['journal_mode', 'synchronous', 'foreign_keys'].map((pragma) => db.pragma(pragma, { simple: true })),
          ['wal', 2, 1],
        );
      } finally {
        opened.close();
      }
    });

    it('refuses a store written by a newer schema version', () => {
      SqliteOutbox.open(store.file).close();
      const db = rawConnection(store.file);
      db.pragma('user_version = 99', { simple: true });
      db.close();
      assert.throws(() => SqliteOutbox.open(store.file), /schema version 99 is newer/);
    });

    it('wraps sendIds below 1,000,000', () => {
      const first = SqliteOutbox.open(store.file);
      first.nextSendId('goip01');
      first.close();
      const db = rawConnection(store.file);
      db.prepare(`UPDATE send_ids SET last = 999998 WHERE line = 'goip01'`).run();
      db.close();
      const reopened = SqliteOutbox.open(store.file);
      try {
        assert.deepEqual([reopened.nextSendId('goip01'), reopened.nextSendId('goip01'), reopened.nextSendId('goip01')], [999999, 1, 2]);
      } finally {
        reopened.close();
      }
    });

    it('keeps every committed row intact after a kill -9 amid commits', async () => {
      const child = fork(path.join(__dirname, '..', 'helpers', 'outbox-crash-child.js'), [store.file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      const [committed, churning] = await Promise.all([nextMessage(child, 'committed'), nextMessage(child, 'churning')]);
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');

      const db = rawConnection(store.file);
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      } finally {
        db.close();
      }
      const reopened = SqliteOutbox.open(store.file);
      try {
        for (let i = 0; i < CRASH_BATCH.size; i++) {
          const recipient = reopened.get(crashBatchRecipient(i).messageId);
          assert.ok(recipient, `recipient ${i} survived`);
          assert.deepEqual([recipient.index, recipient.count, recipient.number], [i, CRASH_BATCH.size, crashBatchRecipient(i).number]);
        }
        assert.equal(committed.claimed.length, 25);
        const resumed = reopened
          .claimedRecipients()
          .filter((r) => r.batchId === CRASH_BATCH.id)
          .map(({ messageId, line, sendId, telId }) => ({ messageId, line, sendId, telId }));
        const byMessageId = (a: { messageId: string }, b: { messageId: string }) => a.messageId.localeCompare(b.messageId);
        assert.deepEqual(resumed.sort(byMessageId), [...committed.claimed].sort(byMessageId));

        // Churn batches: each enqueue and each claim committed whole or not at all.
        let round = 0;
        for (; reopened.get(churnMessageId(round, 0)); round++) {
          const states = Array.from({ length: CHURN_BATCH_SIZE }, (_, i) => reopened.get(churnMessageId(round, i))?.state);
          assert.ok(!states.includes(undefined), `churn batch ${round} complete`);
          const taken = states.filter((s) => s !== 'queued').length;
          assert.ok(taken === 0 || taken === CHURN_CLAIM, `churn batch ${round}: ${taken} claimed`);
        }
        assert.ok(round >= churning.rounds, `${round} churn rounds survived, ${churning.rounds} reported`);
      } finally {
        reopened.close();
      }
    });
  });
});

describe(`SQLite driver (${DRIVER})`, () => {
  let db: Connection;
  beforeEach(() => {
    db = rawConnection(':memory:');
    db.exec('CREATE TABLE t (a INTEGER, b TEXT)');
  });
  afterEach(() => db.close());

  const rows = (): unknown[] => db.prepare('SELECT a, b FROM t ORDER BY rowid').all();

  it('binds @name parameters from a plain object: a missing one throws, an unknown key is ignored, undefined is NULL', () => {
    const insert = db.prepare('INSERT INTO t (a, b) VALUES (@a, @b)');
    assert.equal(insert.run({ a: 1, b: 'x' }).changes, 1);
    assert.throws(() => insert.run({ a: 2 }), /Missing named parameter "b"/);
    insert.run({ a: 3, b: 'y', unused: true });
    insert.run({ a: 4, b: undefined });
    assert.deepEqual(rows(), [{ a: 1, b: 'x' }, { a: 3, b: 'y' }, { a: 4, b: null }]);
    assert.deepEqual(db.prepare("SELECT a FROM t WHERE b = @b AND '@c' = '@c' -- @d").get({ b: 'y' }), { a: 3 });
  });

  it('binds ? parameters in order: too few throw, undefined is NULL', () => {
    const insert = db.prepare('INSERT INTO t (a, b) VALUES (?, ?)');
    insert.run(1, 'x');
    assert.throws(() => insert.run(2), /Too few parameter values/);
    insert.run(3, undefined);
    assert.deepEqual(rows(), [{ a: 1, b: 'x' }, { a: 3, b: null }]);
  });

  it('returns rows as plain objects and undefined for no row', () => {
    db.prepare('INSERT INTO t (a, b) VALUES (?, ?)').run(1, 'x');
    const row = db.prepare('SELECT a, b FROM t').get();
    assert.equal(Object.getPrototypeOf(row), Object.prototype);
    assert.deepEqual(row, { a: 1, b: 'x' });
    assert.equal(db.prepare('SELECT a FROM t WHERE a = ?').get(2), undefined);
  });

  it('answers a pragma with its value', () => {
    assert.equal(db.pragma('user_version', { simple: true }), 0);
    db.pragma('user_version = 7', { simple: true });
    assert.equal(db.pragma('user_version', { simple: true }), 7);
  });

  it('nests transactions: an inner throw undoes only its savepoint, an outer throw undoes everything', () => {
    const insert = db.prepare('INSERT INTO t (a) VALUES (?)');
    const inner = db.transaction((a: number, fail: boolean) => {
      insert.run(a);
      if (fail) throw new Error(`inner ${a}`);
      return a;
    });
    const outer = db.transaction((fail: boolean) => {
      insert.run(1);
      assert.equal(inner(2, false), 2);
      assert.throws(() => inner(3, true), /inner 3/);
      insert.run(4);
      if (fail) throw new Error('outer');
      return 'done';
    });
    assert.equal(outer(false), 'done');
    assert.throws(() => outer(true), /outer/);
    assert.deepEqual(rows(), [1, 2, 4].map((a) => ({ a, b: null })));
    assert.equal(inner(5, false), 5, 'usable on its own after all that');
  });
});

describe('SQLite driver choice', () => {
  const NEEDS = 'the durable send queue needs better-sqlite3 (installed with this package on Node 20+) or Node.js 22.13+ (built-in node:sqlite)';
  let restore: (() => void) | null = null;
  afterEach(() => {
    restore?.();
    restore = null;
  });

  it(`opens with the driver ${SQLITE_DRIVER_ENV} names, else better-sqlite3`, () => {
    const outbox = SqliteOutbox.open(':memory:');
    outbox.close();
    assert.equal(outbox.driver, DRIVER);
  });

  it('throws one clear error naming both options when neither driver loads', () => {
    restore = withoutDrivers(['better-sqlite3', 'node:sqlite']);
    assert.throws(
      () => SqliteOutbox.open(':memory:'),
      (err: unknown) => {
        assert.ok(err instanceof SqliteUnavailableError);
        assert.equal(err.message, NEEDS);
        assert.deepEqual(err.reasons, ["better-sqlite3: Cannot find module 'better-sqlite3'", "node:sqlite: Cannot find module 'node:sqlite'"]);
        return true;
      },
    );
  });

  it(`without better-sqlite3 opens with node:sqlite where Node has it (${NODE_SQLITE_BUILT_IN ? 'here' : 'not here: the clear error'})`, () => {
    restore = withoutDrivers(['better-sqlite3']);
    if (NODE_SQLITE_BUILT_IN) {
      const outbox = SqliteOutbox.open(':memory:');
      outbox.close();
      assert.equal(outbox.driver, 'node:sqlite');
    } else {
      assert.throws(() => SqliteOutbox.open(':memory:'), (err: unknown) => err instanceof SqliteUnavailableError && err.message === NEEDS);
    }
  });

  it("is exported by the package's entry point, which loads without any SQLite driver", () => {
    restore = withoutDrivers(['better-sqlite3', 'node:sqlite']);
    const library = require(path.resolve(__dirname, '..', '..', '..')) as typeof import('../../src');
    assert.equal(typeof library.SqliteOutbox.open, 'function');
    assert.throws(() => library.SqliteOutbox.open(':memory:'), (err: unknown) => err instanceof library.SqliteUnavailableError && err.message === NEEDS);
  });

  it(`says so when the driver ${SQLITE_DRIVER_ENV} names does not load, or is no driver`, () => {
    restore = withoutDrivers(['node:sqlite']);
    process.env[SQLITE_DRIVER_ENV] = 'node:sqlite';
    assert.throws(() => SqliteOutbox.open(':memory:'), new RegExp(`^Error: ${SQLITE_DRIVER_ENV}=node:sqlite does not load \\(node:sqlite: Cannot find module 'node:sqlite'\\)$`));
    process.env[SQLITE_DRIVER_ENV] = 'sqlite3';
    assert.throws(() => SqliteOutbox.open(':memory:'), new RegExp(`^Error: ${SQLITE_DRIVER_ENV}=sqlite3: expected better-sqlite3 or node:sqlite$`));
  });
});

/** The child's next IPC message of `type`; rejects if the child exits first. */
function nextMessage<T extends ChildMessage['type']>(child: ChildProcess, type: T): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ChildMessage): void => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup();
      reject(new Error(`crash child exited (code ${code}, signal ${signal}) before '${type}'`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
