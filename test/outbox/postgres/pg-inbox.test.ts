/**
 * The inbox and the held parts on a real PostgreSQL: the same answers as the SQLite store for the
 * same calls (one script run on both: rows, takes, history pages, reply correlation), and the
 * untaken rows of an instance whose lease lapsed adopted by a live one.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { GoipEvent } from '../../../src/link';
import { PgHeldParts, PgInboxLog } from '../../../src/outbox/postgres/pg-inbox';
import { openPool } from '../../../src/outbox/postgres/pg-pool';
import { LinePresence } from '../../../src/outbox/postgres/pg-presence';
import { PgQueue } from '../../../src/outbox/postgres/pg-queue';
import { migratePg } from '../../../src/outbox/postgres/pg-schema';
import { SqliteOutbox } from '../../../src/outbox/sqlite-outbox';
import type { HeldPart, InboxQuery, InboxRecord } from '../../../src/outbox/types';
import { PgCluster } from '../../helpers/postgres';

const T0 = 1_765_000_000_000;

function sms(line: string, from: string, text: string, at: number, reportKey: number | null): InboxRecord {
  const event: GoipEvent = { event: 'sms', line, from, payload: text, receivedAt: at, fields: { id: line, verb: 'RECEIVE', srcnum: from, msg: text } } as GoipEvent;
  return { kind: 'sms', line, sender: from, text, receivedAt: at, parts: 1, messageId: null, status: null, event, reportKey, handed: true };
}

function delivery(line: string, to: string, messageId: string, at: number): InboxRecord {
  const event = { event: 'delivery', line, payload: { to, state: 0, status: 'delivered', smsNo: 3, messageId }, receivedAt: at, fields: { id: line, verb: 'DELIVER' } } as unknown as GoipEvent;
  return { kind: 'delivery', line, sender: to, text: '', receivedAt: at, parts: 1, messageId, status: 'delivered', event, reportKey: 991, handed: false };
}

/** The calls the script makes, on either store. */
interface InboxCalls {
  insert(records: InboxRecord[]): Promise<number[]>;
  recentReports(since: number): Promise<unknown>;
  untaken(nodeId: string, kinds: Array<'sms' | 'delivery'> | null, line: string | null): Promise<unknown>;
  taken(done: number[], partial: Array<{ inboxId: number; nodeId: string }>): Promise<void>;
  takesOf(inboxId: number): Promise<string[]>;
  query(query: InboxQuery): Promise<{ rows: unknown[]; next: string | null }>;
  lastSentTo(number: string, since: number): Promise<unknown>;
  parts: { hold(part: HeldPart): Promise<void>; release(line: string, from: string): Promise<void>; all(): Promise<HeldPart[]> };
  sendTo(number: string): Promise<void>;
}

describe('postgres store: the inbox and the held parts', function () {
  this.timeout(60_000);
  let cluster: PgCluster;
  const pools: pg.Pool[] = [];

  before(async function () {
    cluster = await PgCluster.startFor(this);
  });
  after(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    cluster?.stop();
  });

  async function store(name: string): Promise<pg.Pool> {
    const pool = openPool({ connectionString: cluster.createDatabase(name) });
    pools.push(pool);
    await migratePg(pool, 'goip');
    return pool;
  }

  it('answers the inbox service and goip-inbox as the SQLite store does, call for call', async () => {
    const clock = (): number => T0;
    const sqlite = SqliteOutbox.open(':memory:', { now: clock });
    const log = sqlite.inbox();
    const held = sqlite.heldParts();
    const sqliteCalls: InboxCalls = {
      insert: async (records) => sqlite.transaction(() => records.map((record) => log.insert(record))),
      recentReports: async (since) => log.recentReports(since),
      untaken: async (nodeId, kinds, line) => log.untaken(nodeId, { kinds, line }, 0, 10),
      taken: async (done, partial) => log.taken(done, partial),
      takesOf: async (inboxId) => log.takesOf(inboxId),
      query: async (query) => log.query(query),
      lastSentTo: async (number, since) => log.lastSentTo(number, since),
      parts: { hold: async (part) => held.hold(part), release: async (line, from) => held.release(line, from), all: async () => held.all() },
      sendTo: async (number) => {
        sqlite.enqueue({ batchId: 'out', text: 'hi', line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients: [{ messageId: 'out-0', number }] });
        const [claimed] = sqlite.claim('l1', 1, 1, 1);
        sqlite.markSent(claimed.messageId, 4, '2025-12-06');
      },
    };
    const pool = await store('inbox_parity');
    await new LinePresence(pool, 'a', 30_000, clock).renew(['l1']);
    const pgLog = new PgInboxLog(pool, { instance: 'a', leaseMs: 30_000, now: clock });
    const pgParts = new PgHeldParts(pool);
    const queue = new PgQueue(pool, { instance: 'a', leaseMs: 30_000, now: clock });
    const pgCalls: InboxCalls = {
      insert: (records) => pgLog.insert(records),
      recentReports: (since) => pgLog.recentReports(since),
      untaken: (nodeId, kinds, line) => pgLog.untaken(nodeId, { kinds, line }, 0, 10),
      taken: (done, partial) => pgLog.taken(done, partial),
      takesOf: (inboxId) => pgLog.takesOf(inboxId),
      query: (query) => pgLog.query(query),
      lastSentTo: (number, since) => pgLog.lastSentTo(number, since),
      parts: pgParts,
      sendTo: async (number) => {
        await queue.enqueue({ batchId: 'out', text: 'hi', line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients: [{ messageId: 'out-0', number }] });
        const [claimed] = await queue.claim('l1', 1, 1, 1);
        await queue.markSent(claimed.messageId, 4, '2025-12-06');
      },
    };

    const answers: unknown[][] = [];
    for (const calls of [sqliteCalls, pgCalls]) {
      const said: unknown[] = [];
      answers.push(said);
      const note = (label: string, value: unknown): void => void said.push([label, JSON.parse(JSON.stringify(value))]);
      await calls.sendTo('+49 30 1234567');
      const ids = await calls.insert([
        sms('l1', '+4930111222', 'first from A', T0 + 1, 101),
        sms('l2', '+4930333444', 'Hello World', T0 + 2, 102),
        delivery('l1', '+49301234567', 'out-0', T0 + 3),
        sms('l1', '004930111222', 'second from A, hello', T0 + 4, null),
        sms('l2', 'ALERTS', 'world news', T0 + 5, 105),
      ]);
      note('ids', ids);
      note('recent reports', await calls.recentReports(T0 + 2));
      note('untaken n1', await calls.untaken('n1', null, null));
      note('untaken n2 sms on l1', await calls.untaken('n2', ['sms'], 'l1'));
      await calls.taken([ids[0]], [{ inboxId: ids[1], nodeId: 'n1' }, { inboxId: ids[1], nodeId: 'n1' }]);
      note('takes of the second', await calls.takesOf(ids[1]));
      note('untaken n1 after', await calls.untaken('n1', null, null));
      note('untaken n2 after', await calls.untaken('n2', null, null));
      const first = await calls.query({ limit: 2 });
      note('page 1', first);
      note('page 2', await calls.query({ limit: 2, before: Number(first.next) }));
      note('from A in any form', await calls.query({ from: '+49 30 111 222', limit: 10 }));
      note('text, any case', await calls.query({ text: 'WORLD', limit: 10 }));
      note('deliveries', await calls.query({ kind: 'delivery', limit: 10 }));
      note('l2 in a time window', await calls.query({ line: 'l2', since: T0 + 2, until: T0 + 5, limit: 10 }));
      note('reply correlation', await calls.lastSentTo('0049 30 1234567', T0 - 1000));
      note('no reply before', await calls.lastSentTo('+49301234567', T0 + 1000));
      await calls.parts.hold({ line: 'l1', from: '+4930', event: { event: 'sms', line: 'l1', payload: 'part 1' } as GoipEvent, heldAt: T0 });
      await calls.parts.hold({ line: 'l1', from: '+4931', event: { event: 'sms', line: 'l1', payload: 'other' } as GoipEvent, heldAt: T0 + 1 });
      await calls.parts.hold({ line: 'l1', from: '+4930', event: { event: 'sms', line: 'l1', payload: 'part 2' } as GoipEvent, heldAt: T0 + 2 });
      note('held', await calls.parts.all());
      await calls.parts.release('l1', '+4930');
      note('held after release', await calls.parts.all());
    }
    sqlite.close();
    assert.deepEqual(answers[1], answers[0]);
    assert.ok(JSON.stringify(answers[0]).includes('"messageId":"out-0","batchId":"out"'), 'the reply correlation found the send');
  });

  it("adopts an instance's untaken rows once its lease lapsed, not before", async () => {
    let now = T0;
    const clock = (): number => now;
    const pool = await store('inbox_adopt');
    await new LinePresence(pool, 'a', 30_000, clock).announce(['l1'], null);
    await new LinePresence(pool, 'b', 30_000, clock).announce(['l2'], null);
    const a = new PgInboxLog(pool, { instance: 'a', leaseMs: 30_000, now: clock });
    const b = new PgInboxLog(pool, { instance: 'b', leaseMs: 30_000, now: clock });
    const ids = await a.insert([sms('l1', '+4930', 'one', T0, 1), sms('l1', '+4930', 'two', T0 + 1, 2), sms('l1', '+4930', 'three', T0 + 2, 3)]);
    await a.taken([ids[0]], []);
    const all = { kinds: null, line: null };
    assert.deepEqual(await b.untaken('n1', all, 0, 10), [], "a's rows are a's to hand out");
    assert.equal(await b.adoptOrphans(), 0, "a's lease holds");
    now += 30_001;
    await new LinePresence(pool, 'b', 30_000, clock).renew([]);
    assert.equal(await b.adoptOrphans(), 2, 'the two a left untaken');
    assert.deepEqual((await b.untaken('n1', all, 0, 10)).map((m) => [m.inboxId, m.event.payload, m.handed]), [[ids[1], 'two', true], [ids[2], 'three', true]]);
    assert.deepEqual(await a.untaken('n1', all, 0, 10), []);
  });
});
