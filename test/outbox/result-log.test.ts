/**
 * Results at least once (every recipient still gets one final result, across a kill -9
 * too): the store's result log, the SendingService replaying what its owner never took, and
 * the goip-send handover telling when the flow is done with a result.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import { SendingService } from '../../src/gateway/sending';
import { sqliteStore } from '../../src/outbox/sqlite-store';
import { GroupRouter } from '../../src/send/routing';
import type { HookEvent, MessagingHooks } from '../../src/nodes/red';
import { ResultHandover } from '../../src/nodes/result-handover';
import { type NewBatch, type Outbox, type Recipient, SqliteOutbox } from '../../src/outbox';
import { UNREPORTED_PAGE } from '../../src/outbox/result-log';
import { openConnection } from '../../src/outbox/sqlite-driver';
import type { BulkSender } from '../../src/outbound';
import { MemoryOutbox } from '../helpers/memory-outbox';

const batch = (batchId: string, size: number, nodeId = 'send1'): NewBatch => ({
  batchId,
  text: 'hi',
  line: null,
  nodeId,
  meta: {},
  segments: 1,
  encoding: 'GSM-7',
  recipients: Array.from({ length: size }, (_, i) => ({ messageId: `${batchId}-${i}`, number: `+3809600000${i}` })),
});

const ids = (recipients: readonly Recipient[]): string[] => recipients.map((r) => r.messageId);

for (const [name, open] of [
  ['SqliteOutbox', () => SqliteOutbox.open(':memory:')],
  ['MemoryOutbox', () => new MemoryOutbox()],
] as Array<[string, () => Outbox]>) {
  describe(`result log (${name})`, () => {
    let outbox: Outbox;
    beforeEach(() => (outbox = open()));
    afterEach(() => outbox.close());

    it('lists the final results of one owner not taken, in batch order, page by page', () => {
      outbox.enqueue(batch('a', 3));
      outbox.enqueue(batch('other', 2, 'send2'));
      outbox.enqueue(batch('b', 2));
      outbox.queue.cancel({ batchId: 'b' });
      outbox.queue.cancel({ batchId: 'other' });
      assert.deepEqual(ids(outbox.results.unreported('send1', null, 10).recipients), ['b-0', 'b-1'], 'queued ones are not results yet');
      outbox.queue.cancel({ batchId: 'a' });
      const first = outbox.results.unreported('send1', null, 3);
      assert.deepEqual(ids(first.recipients), ['a-0', 'a-1', 'a-2']);
      assert.ok(first.next !== null);
      const second = outbox.results.unreported('send1', first.next, 3);
      assert.deepEqual([ids(second.recipients), second.next], [['b-0', 'b-1'], null]);
      outbox.results.taken(['a-1', 'b-0']);
      assert.deepEqual(ids(outbox.results.unreported('send1', null, 10).recipients), ['a-0', 'a-2', 'b-1']);
    });

    it('lists a retried recipient again once it ends again', () => {
      outbox.enqueue(batch('r', 1));
      const [claimed] = outbox.claim('goip01', 1, 1, 1);
      outbox.markFailed(claimed.messageId, 'no signal');
      outbox.results.taken(['r-0']);
      assert.equal(outbox.results.unreported('send1', null, 10).recipients.length, 0);
      outbox.queue.retry('r');
      assert.equal(outbox.results.unreported('send1', null, 10).recipients.length, 0, 'queued again: no result yet');
      outbox.claim('goip01', 2, 1, 1);
      outbox.markFailed('r-0', 'no signal');
      assert.deepEqual(ids(outbox.results.unreported('send1', null, 10).recipients), ['r-0']);
    });
  });
}

describe('result log in SQLite', () => {
  it('reads a page of unreported results from its partial index, not a scan of the recipients', () => {
    const outbox = SqliteOutbox.open(':memory:');
    const { db } = outbox as unknown as { db: ReturnType<typeof openConnection>['db'] };
    const plan = db
      .prepare<{ detail: string }>(`EXPLAIN QUERY PLAN ${UNREPORTED_PAGE}`)
      .all({ nodeId: 'send1', seq: -1, idx: -1, limit: 10 })
      .map((row) => row.detail)
      .join(' | ');
    assert.match(plan, /SEARCH r USING INDEX recipients_unreported \(\(batch_seq,idx\)>\(\?,\?\)\)/, plan);
    outbox.close();
  });

  it('counts the final recipients of a store written before the log as taken', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-result-log-'));
    try {
      const file = path.join(dir, 'outbox.db');
      const store = SqliteOutbox.open(file);
      store.enqueue(batch('old', 2));
      store.queue.cancel({ messageId: 'old-0' });
      store.close();
      // Back to schema 4: no inbox and no sends-by-day index nor own texts and sticky lines (schemas 6 to 9), no result log (schema 5).
      const db = openConnection(file).db;
      db.exec('DROP TABLE number_lines; ALTER TABLE recipients DROP COLUMN sticky_ms; ALTER TABLE recipients DROP COLUMN text; ALTER TABLE recipients DROP COLUMN segments; ALTER TABLE recipients DROP COLUMN encoding; DROP INDEX line_usage_by_day; DROP TABLE inbox_takes; DROP TABLE inbox_pending; DROP TABLE inbox; DROP INDEX recipients_sent_by_number; ALTER TABLE recipients DROP COLUMN number_tail');
      db.exec('DROP INDEX recipients_unreported; ALTER TABLE recipients DROP COLUMN result_out');
      db.pragma('user_version = 4', { simple: true });
      db.close();
      const reopened = SqliteOutbox.open(file);
      try {
        assert.equal(reopened.results.unreported('send1', null, 10).recipients.length, 0);
        reopened.queue.cancel({ messageId: 'old-1' });
        assert.deepEqual(ids(reopened.results.unreported('send1', null, 10).recipients), ['old-1']);
      } finally {
        reopened.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SendingService results', () => {
  const composed = (numbers: string[]) => ({ text: 'hi', numbers, groups: numbers.map(() => ''), line: null, bytes: 2, segments: 1, encoding: 'GSM-7' as const });
  const sender = (): BulkSender => Object.assign(new EventEmitter(), { kick: () => undefined }) as unknown as BulkSender;
  const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const failed = (err: unknown): never => assert.fail(String(err));
  const NO_FLEET = { knownLines: () => new Set<string>(), router: () => new GroupRouter() };

  it('emits to a later owner what ended while it was away, and after a restart what it never took', async () => {
    const outbox = new MemoryOutbox();
    const first = new SendingService(sqliteStore(outbox, failed), sender(), failed, NO_FLEET);
    await first.submitBatch('send1', composed(['+8613800000001', '+8613800000002', '+8613800000003']), {}, { priority: 'normal', sendAt: null, expiresAt: null, batchId: 'b' });
    assert.equal((await first.cancel({ batchId: 'b' }))?.cancelled, 3);
    const seen: Array<[Recipient, () => void]> = [];
    first.onResult('send1', (recipient, taken) => seen.push([recipient, taken]));
    await nextTurn();
    assert.deepEqual(seen.map(([r]) => r.state), ['cancelled', 'cancelled', 'cancelled']);
    seen[0][1]();
    seen[2][1]();
    seen[2][1]();
    await first.close();

    const restarted = new SendingService(sqliteStore(outbox, failed), sender(), failed, NO_FLEET);
    const again: Recipient[] = [];
    restarted.onResult('send1', (recipient) => again.push(recipient));
    await nextTurn();
    assert.deepEqual(ids(again), [seen[1][0].messageId]);
    await restarted.close();
  });

  it('emits a result once per process, however often its owner subscribes again', async () => {
    const service = new SendingService(sqliteStore(new MemoryOutbox(), failed), sender(), failed, NO_FLEET);
    await service.submitBatch('send1', composed(['+8613800000001']), {}, { priority: 'normal', sendAt: null, expiresAt: null, batchId: 'b' });
    const seen: Recipient[] = [];
    const stop = service.onResult('send1', (recipient) => seen.push(recipient));
    await service.cancel({ batchId: 'b' });
    await nextTurn();
    stop();
    service.onResult('send1', (recipient) => seen.push(recipient));
    await nextTurn();
    assert.equal(seen.length, 1, 'in hand, not taken: not again in this process');
    await service.close();
  });
});

/** Node-RED's messaging hooks as the runtime calls them (routing, receiving, done). */
class FakeHooks implements MessagingHooks {
  private readonly hooks = new Map<string, (event: HookEvent) => void>();
  add(name: string, hook: (event: HookEvent) => void): void {
    this.hooks.set(name.split('.')[0], hook);
  }
  remove(): void {
    this.hooks.clear();
  }
  route(msg: object): void {
    this.hooks.get('preDeliver')?.({ msg });
  }
  receive(msg: object, node: string): void {
    this.hooks.get('onReceive')?.({ msg, destination: { id: node } });
  }
  complete(msg: object, node: string): void {
    this.hooks.get('onComplete')?.({ msg, node: { id: node } });
  }
}

describe('ResultHandover', () => {
  const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  function rig(idleMs = 60_000): { hooks: FakeHooks; handover: ResultHandover; taken: string[] } {
    const hooks = new FakeHooks();
    const handover = new ResultHandover(idleMs);
    handover.attach(hooks);
    return { hooks, handover, taken: [] };
  }

  it('takes a result nobody is wired to after this turn', async () => {
    const { handover, taken } = rig();
    handover.send({ _msgid: 'x' }, () => undefined, () => taken.push('x'));
    assert.deepEqual(taken, []);
    await nextTurn();
    assert.deepEqual(taken, ['x']);
  });

  it('takes a result once every node it reached, through a chain and a clone, called done', async () => {
    const { hooks, handover, taken } = rig();
    const msg = { _msgid: 'm', payload: 1 };
    const clone = { ...msg };
    // goip-send -> [change, debug (a clone)]; change -> http request, which answers later.
    handover.send(msg, () => (hooks.route(msg), hooks.route(clone)), () => taken.push('m'));
    hooks.receive(clone, 'debug');
    hooks.complete(clone, 'debug');
    hooks.receive(msg, 'change');
    hooks.route(msg);
    hooks.complete(msg, 'change');
    await nextTurn();
    assert.deepEqual(taken, [], 'the http request got it and is still at work');
    hooks.receive(msg, 'http');
    // A node making a new message from it keeps the _msgid.
    const answer = { _msgid: 'm', payload: 'ok' };
    hooks.route(answer);
    hooks.complete(msg, 'http');
    await nextTurn();
    assert.deepEqual(taken, [], 'its answer is on its way');
    hooks.receive(answer, 'sink');
    hooks.complete(answer, 'sink');
    await nextTurn();
    assert.deepEqual(taken, ['m']);
  });

  it('does not count the done of a node that got the _msgid before the result went out', async () => {
    const { hooks, handover, taken } = rig();
    const input = { _msgid: 'in' };
    hooks.receive(input, 'delay');
    const result = { _msgid: 'in', payload: 'result' };
    handover.send(result, () => hooks.route(result), () => taken.push('result'));
    hooks.receive(result, 'http');
    hooks.complete(input, 'delay');
    await nextTurn();
    assert.deepEqual(taken, [], 'the http request still holds the result');
    hooks.complete(result, 'http');
    await nextTurn();
    assert.deepEqual(taken, ['result']);
  });

  it('takes a result held by a node that never calls done once nothing of it moved for the idle time', () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      const { hooks, handover, taken } = rig(60_000);
      const msg = { _msgid: 'held' };
      handover.send(msg, () => hooks.route(msg), () => taken.push('held'));
      clock.tick(30_000);
      hooks.receive(msg, 'legacy');
      clock.tick(59_999);
      assert.deepEqual(taken, [], 'it moved 30 s in');
      clock.tick(1);
      assert.deepEqual(taken, ['held']);
    } finally {
      clock.restore();
    }
  });

  it('takes at once without hooks (an older runtime)', () => {
    const handover = new ResultHandover();
    handover.attach(undefined);
    const taken: string[] = [];
    let sent = false;
    handover.send({ _msgid: 'y' }, () => (sent = true), () => taken.push('y'));
    assert.deepEqual([sent, taken], [true, ['y']]);
  });
});
