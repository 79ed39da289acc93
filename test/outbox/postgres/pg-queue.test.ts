/**
 * The send queue on a real PostgreSQL: the same answers as the SQLite store for the same calls
 * (one script run on both), claims that two instances racing never share, claims only for lines
 * registered to the instance, and line presence taken over only after a lease lapsed.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { migratePg } from '../../../src/outbox/postgres/pg-schema';
import { openPool } from '../../../src/outbox/postgres/pg-pool';
import { LinePresence } from '../../../src/outbox/postgres/pg-presence';
import { PgQueue } from '../../../src/outbox/postgres/pg-queue';
import { sendPortOf } from '../../../src/outbox/send-port';
import { SqliteOutbox } from '../../../src/outbox/sqlite-outbox';
import type { Asynchronous, NewBatch, Outbox, Recipient, SendStore } from '../../../src/outbox/types';
import { PgDeliveries } from '../../../src/outbox/postgres/pg-deliveries';
import { PgCluster } from '../../helpers/postgres';

const T0 = 1_765_000_000_000;
const DAY = '2025-12-06';

function batch(batchId: string, count: number, extra: Partial<NewBatch> = {}): NewBatch {
  return {
    batchId,
    text: `text of ${batchId}`,
    line: null,
    nodeId: 'send1',
    meta: { _msgid: `m-${batchId}`, topic: 't' },
    segments: 1,
    encoding: 'GSM-7',
    recipients: Array.from({ length: count }, (_, i) => ({ messageId: `${batchId}-${i}`, number: `+49301234${String(i).padStart(4, '0')}` })),
    ...extra,
  };
}

/** What a store answered, without what differs by design (the time a row changed). */
const shape = (recipients: readonly Recipient[]): unknown[] => recipients.map(({ updatedAt: _updatedAt, ...rest }) => rest);

describe('postgres store: the send queue', function () {
  this.timeout(60_000);
  let cluster: PgCluster;
  const pools: pg.Pool[] = [];
  let databases = 0;

  before(async function () {
    cluster = await PgCluster.startFor(this);
  });
  after(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    cluster?.stop();
  });

  /** A migrated store in a database of its own, with `instances` pools on it. */
  async function store(instances = 1): Promise<pg.Pool[]> {
    const url = cluster.createDatabase(`queue_${++databases}`);
    const created = Array.from({ length: instances }, () => openPool({ connectionString: url, maxConnections: 8 }));
    pools.push(...created);
    await migratePg(created[0], 'goip');
    return created;
  }

  it('answers the send engine as the SQLite store does, call for call', async () => {
    let now = T0;
    const clock = (): number => now;
    const [pool] = await store();
    await new LinePresence(pool, 'a', 30_000, clock).renew(['l1', 'l2']);
    const pgQueue = new PgQueue(pool, { instance: 'a', leaseMs: 30_000, now: clock });
    const sqlite = SqliteOutbox.open(':memory:', { now: clock });
    type Deliveries = Asynchronous<Pick<Outbox, 'correlateDelivery' | 'markDelivery' | 'findSentTo'>>;
    const stores: Array<{ name: string; port: SendStore; deliveries: Deliveries; enqueue: (b: NewBatch) => Promise<Recipient[]>; block: (n: string) => Promise<void> }> = [
      {
        name: 'sqlite',
        port: sendPortOf(sqlite),
        deliveries: {
          correlateDelivery: async (...args) => sqlite.correlateDelivery(...args),
          markDelivery: async (...args) => sqlite.markDelivery(...args),
          findSentTo: async (...args) => sqlite.findSentTo(...args),
        },
        enqueue: async (b) => sqlite.enqueue(b),
        block: async (n) => void sqlite.queue.block([n]),
      },
      {
        name: 'postgres',
        port: pgQueue,
        deliveries: new PgDeliveries(pool, clock),
        enqueue: (b) => pgQueue.enqueue(b),
        block: async (n) => void (await pool.query('INSERT INTO blocked_numbers (number, blocked_at) VALUES ($1, $2)', [n, now])),
      },
    ];
    const answers: unknown[][] = [[], []];
    for (const [i, { port, deliveries, enqueue, block }] of stores.entries()) {
      now = T0;
      const note = (label: string, value: unknown): void => void answers[i].push([label, value]);
      await block('+4930 1234 0003');
      note('enqueue low', shape(await enqueue(batch('low', 4, { priority: 'low' }))));
      note('enqueue normal', shape(await enqueue(batch('normal', 5, { recipients: batch('normal', 5).recipients.map((r, n) => ({ ...r, group: n === 4 ? 'vip' : '' })) }))));
      note('enqueue later', shape(await enqueue(batch('later', 2, { sendAt: T0 + 60_000, expiresAt: T0 + 120_000 }))));
      note('queued', await port.queuedCount());
      note('next batch', await port.nextBatch('l1', ['']));
      note('nextTimedAt', await port.nextTimedAt());
      now += 1_000;
      const claimed = await port.claim('l1', 11, 1, 3, undefined, 'low', ['']);
      note('claim l1', shape(claimed));
      note('claim l2 in its batch (nothing of normal left for it)', shape(await port.claim('l2', 21, 1, 2, 'low', 'low', [''])));
      note('claim l2', shape(await port.claim('l2', 21, 1, 2, undefined, 'low', [''])));
      note('sent', shape([await port.markSent(claimed[0].messageId, 40, DAY)]));
      note('sent again (late OK)', shape([await port.markSent(claimed[0].messageId, 40, DAY)]));
      note('DELIVER correlated', shape([(await deliveries.correlateDelivery('l1', 40, 60_000, now)) as Recipient]));
      note('DELIVER of another sms_no', await deliveries.correlateDelivery('l1', 41, 60_000, now));
      note('delivered', shape([await deliveries.markDelivery(claimed[0].messageId, 0, now + 5)]));
      note('+CDS send found', shape([(await deliveries.findSentTo('l1', claimed[0].number.replace('+49', '0049'), now + 2_000, 5_000)) as Recipient]));
      note('+CDS too far', await deliveries.findSentTo('l1', claimed[0].number, now + 20_000, 5_000));
      await assert.rejects(deliveries.markDelivery(claimed[1].messageId, 0, now), /needs a sent recipient, it is claimed/);
      note('failed', shape([await port.markFailed(claimed[1].messageId, 'radio said no')]));
      note('requeued', shape([await port.requeue(claimed[2].messageId, 'l1')]));
      await assert.rejects(port.markFailed(claimed[1].messageId, 'twice'), /needs a claimed recipient, it is failed/);
      note('l1 may not take it back', shape(await port.claim('l1', 12, 1, 5, 'normal', 'low', [''])));
      note('claimed', shape(await port.claimedRecipients()));
      note('usage', [...(await port.sentByLineOn(DAY))]);
      note('sent since', await port.sentSince('l1', T0));
      note('unroutable', shape(await port.failUnroutable([''])));
      note('unsendable', shape(await port.failUnsendable(['l1'])));
      now = T0 + 200_000;
      note('expired', shape(await port.expireDue()));
      note('get', shape([(await port.get('low-0')) as Recipient]));
      note('missing', await port.get('nope'));
      const own = (text: string) => ({ text, segments: 1, encoding: 'GSM-7' as const });
      const personal = batch('personal', 4).recipients.map((r, n) => ({ ...r, ...(n === 3 ? { error: 'TEMPLATE_VAR: no value for {{code}}' } : own(n === 1 ? 'Hi B' : 'Hi A')) }));
      note('enqueue personalised (one fails at once)', shape(await enqueue(batch('personal', 4, { priority: 'high', recipients: personal }))));
      note('next batch: the first recipient text', await port.nextBatch('l2', ['']));
      note('claim without a text: the first recipient text only', shape(await port.claim('l2', 31, 1, 3, undefined, 'low', [''])));
      note('claim of text B', shape(await port.claim('l2', 32, 1, 3, 'personal', 'low', [''], 'Hi B')));
      note('claim of text A: none left', shape(await port.claim('l2', 33, 1, 3, 'personal', 'low', [''], 'Hi A')));
      const stuck = batch('sticky', 1, { priority: 'high', recipients: [{ messageId: 'sticky-0', number: claimed[0].number, stickyMs: 86_400_000 }] });
      note('enqueue sticky to the number l1 sent to', shape(await enqueue(stuck)));
      note('l2 while l1 may send: not the sticky one', shape(await port.claim('l2', 34, 1, 1, 'sticky', 'low', [''], undefined, ['l1', 'l2'])));
      note('l2 while l1 may not: it takes it', shape(await port.claim('l2', 35, 1, 1, 'sticky', 'low', [''], undefined, ['l2'])));
    }
    sqlite.close();
    assert.deepEqual(answers[1], answers[0]);
  });

  it('never lets two instances claim the same recipient', async () => {
    const [poolA, poolB] = await store(2);
    await new LinePresence(poolA, 'a', 30_000).renew(['a1', 'a2', 'a3', 'a4']);
    await new LinePresence(poolB, 'b', 30_000).renew(['b1', 'b2', 'b3', 'b4']);
    const a = new PgQueue(poolA, { instance: 'a', leaseMs: 30_000 });
    const b = new PgQueue(poolB, { instance: 'b', leaseMs: 30_000 });
    await a.enqueue(batch('big', 400));
    const claims: Recipient[] = [];
    const claimer = async (queue: PgQueue, line: string): Promise<void> => {
      for (let sendId = 1; ; sendId++) {
        const got = await queue.claim(line, sendId, 1, 3);
        if (got.length === 0) return;
        claims.push(...got);
      }
    };
    await Promise.all([...['a1', 'a2', 'a3', 'a4'].map((line) => claimer(a, line)), ...['b1', 'b2', 'b3', 'b4'].map((line) => claimer(b, line))]);
    const ids = claims.map((r) => r.messageId);
    assert.equal(ids.length, 400);
    assert.equal(new Set(ids).size, 400);
    assert.ok(claims.some((r) => r.line?.startsWith('a')) && claims.some((r) => r.line?.startsWith('b')), 'both instances claimed');
    const { rows } = await poolA.query<{ n: number }>("SELECT count(*)::int AS n FROM recipients WHERE state = 'claimed' AND attempts = 1");
    assert.equal(rows[0].n, 400);
  });

  it('claims only for a line registered to the instance', async () => {
    let now = T0;
    const clock = (): number => now;
    const [pool] = await store();
    const a = new PgQueue(pool, { instance: 'a', leaseMs: 30_000, now: clock });
    await a.enqueue(batch('b1', 3));
    assert.deepEqual(await a.claim('l1', 1, 1, 1), [], 'a line nobody registered');
    await new LinePresence(pool, 'b', 30_000, clock).renew(['l1']);
    assert.deepEqual(await a.claim('l1', 1, 1, 1), [], "another instance's line");
    now += 30_001;
    const taken = await new LinePresence(pool, 'a', 30_000, clock).renew(['l1']);
    assert.deepEqual([...taken], [['l1', 'b']]);
    assert.equal((await a.claim('l1', 1, 1, 1)).length, 1);
    assert.equal((await a.claimedRecipients()).length, 1);
    assert.deepEqual(await new PgQueue(pool, { instance: 'b', leaseMs: 30_000, now: clock }).claimedRecipients(), [], 'what a start resumes: its own lines only');
  });

  it("fails a recipient no line may send only when no live instance's configured lines may", async () => {
    let now = T0;
    const clock = (): number => now;
    const [pool] = await store();
    const a = new PgQueue(pool, { instance: 'a', leaseMs: 30_000, now: clock });
    await new LinePresence(pool, 'a', 30_000, clock).announce(['a1'], null);
    await new LinePresence(pool, 'b', 30_000, clock).announce(['b1'], ['vip']);
    await a.enqueue(batch('pinned', 1, { line: 'b1' }));
    await a.enqueue(batch('vip', 1, { recipients: [{ messageId: 'vip-0', number: '+4930999', group: 'vip' }] }));
    assert.deepEqual(await a.failUnsendable(['a1']), [], 'b1 is configured at b');
    assert.deepEqual(await a.failUnroutable(['']), [], 'vip is routed at b');
    now += 30_001;
    assert.deepEqual((await a.failUnsendable(['a1'])).map((r) => [r.messageId, r.error]), [['pinned-0', 'line b1 is no longer configured (batch pinned to it)']]);
    assert.deepEqual((await a.failUnroutable(['']).then((rs) => rs.map((r) => r.messageId))), ['vip-0'], "b's lease lapsed");
  });

  it('takes a line registered elsewhere only once its lease lapsed, and at once when it was given up', async () => {
    let now = T0;
    const clock = (): number => now;
    const [pool] = await store();
    const a = new LinePresence(pool, 'a', 30_000, clock);
    const b = new LinePresence(pool, 'b', 30_000, clock);
    assert.deepEqual([...(await a.renew(['l1', 'l2', 'l1']))], [['l1', null], ['l2', null]]);
    now += 20_000;
    assert.deepEqual([...(await b.renew(['l1', 'l3']))], [['l3', null]], 'l1 is leased to a');
    assert.deepEqual([...(await a.renew(['l1']))], [['l1', null]], 'a renews its own');
    now += 29_000;
    assert.deepEqual([...(await b.renew(['l1', 'l2']))], [['l2', 'a']], 'l2 lapsed, l1 was renewed');
    await a.release(['l1']);
    assert.deepEqual([...(await b.renew(['l1']))], [['l1', null]], 'given up: nobody to take it from');
    assert.deepEqual(await a.renew([]), new Map(), 'renewing no line only renews the instance');
    assert.deepEqual(await b.owner('l1'), { instance: 'b', renewedAt: now });
    assert.equal(await b.owner('l9'), null);
  });
});
