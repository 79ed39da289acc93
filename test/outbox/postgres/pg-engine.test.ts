/**
 * The send engine on the shared store: two instances (each its own GoipServer, BulkSender and
 * simulated lines) on one PostgreSQL. A batch enqueued on one is sent by both (the other one woken
 * by the store), each on its own lines, every number once; with loss on the lines too.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { GoipServer } from '../../../src/link';
import { BulkSender } from '../../../src/outbound';
import { openPool } from '../../../src/outbox/postgres/pg-pool';
import { LinePresence } from '../../../src/outbox/postgres/pg-presence';
import { PgQueue } from '../../../src/outbox/postgres/pg-queue';
import { PgWake } from '../../../src/outbox/postgres/pg-wake';
import { migratePg } from '../../../src/outbox/postgres/pg-schema';
import type { Recipient } from '../../../src/outbox/types';
import { Ledger, lineIds, SimLine, type SimLineOptions } from '../../../src/sim';
import { numbers } from '../../helpers/fleet-rig';
import { PgCluster } from '../../helpers/postgres';

const PASSWORD = 'pgpw';

interface Instance {
  name: string;
  server: GoipServer;
  sender: BulkSender;
  lines: SimLine[];
  queue: PgQueue;
  wake: PgWake;
  results: Recipient[];
}

async function startInstance(pool: pg.Pool, url: string, name: string, lineCount: number, ledger: Ledger, sim: Partial<SimLineOptions>): Promise<Instance> {
  const ids = lineIds(lineCount, `${name}-`);
  const server = new GoipServer({ bind: '127.0.0.1', port: 0, devices: ids.map((id) => ({ id, password: PASSWORD })) });
  const { port } = await server.start();
  const lines = ids.map((id) => new SimLine({ id, password: PASSWORD, server: { host: '127.0.0.1', port }, ledger, smsRadioTimeMs: 5, ...sim }));
  const online = new Promise<void>((resolve) => {
    const seen = new Set<string>();
    server.on('event', (e) => {
      if (e.event === 'online') seen.add(e.line);
      if (seen.size === ids.length) resolve();
    });
  });
  await Promise.all(lines.map((line) => line.start()));
  await online;
  await new LinePresence(pool, name, 30_000).renew(ids);
  const queue = new PgQueue(pool, { instance: name, leaseMs: 30_000 });
  const sender = new BulkSender(server, queue, { stepTimeoutMs: 80, waitRecheckMs: 300 });
  const results: Recipient[] = [];
  sender.on('result', (r) => results.push(r));
  sender.on('warning', (err) => {
    throw err;
  });
  sender.start();
  const wake = new PgWake({ connectionString: url }, () => sender.kick());
  await wake.start();
  return { name, server, sender, lines, queue, wake, results };
}

async function stopInstance(instance: Instance): Promise<void> {
  await instance.wake.stop();
  await instance.sender.stop();
  await Promise.all(instance.lines.map((line) => line.stop()));
  await instance.server.stop();
}

/** Resolves once the instances' results together reach `count`. */
function allResults(instances: readonly Instance[], count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (instances.reduce((n, instance) => n + instance.results.length, 0) >= count) resolve();
    };
    for (const instance of instances) instance.sender.on('result', check);
  });
}

describe('postgres store: the send engine of two instances', function () {
  this.timeout(90_000);
  let cluster: PgCluster;
  let pool: pg.Pool | null = null;
  let instances: Instance[] = [];
  let databases = 0;

  before(async function () {
    cluster = await PgCluster.startFor(this);
  });
  afterEach(async () => {
    await Promise.all(instances.map(stopInstance));
    instances = [];
    await pool?.end();
    pool = null;
  });
  after(() => cluster?.stop());

  for (const loss of [0, 0.1]) {
    it(`sends a batch handed to one instance on the lines of both, every number once (${loss * 100}% loss)`, async () => {
      const url = cluster.createDatabase(`engine_${++databases}`);
      pool = openPool({ connectionString: url, maxConnections: 10 });
      await migratePg(pool, 'goip');
      const ledger = new Ledger();
      const sim = loss > 0 ? { faults: { loss, duplicate: 0.05, reorder: 0.05, delayMs: [0, 3] as [number, number], seed: 5 } } : {};
      instances = [await startInstance(pool, url, 'a', 3, ledger, sim), await startInstance(pool, url, 'b', 3, ledger, sim)];
      const [a, b] = instances;
      const recipients = numbers('4930', 60).map((number, i) => ({ messageId: `pg-${i}`, number }));
      await a.queue.enqueue({ batchId: 'pgb', text: 'shared store', line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients });
      const done = allResults(instances, 60);
      // The instance that took the batch kicks its engine as goip-send does; the other one is told by the store.
      a.sender.kick();
      await done;

      const results = [...a.results, ...b.results];
      assert.equal(new Set(results.map((r) => r.messageId)).size, 60, 'one result per number');
      for (const r of results) assert.equal(r.state, 'sent', `${r.messageId}: ${r.error}`);
      assert.ok(a.results.length > 0 && b.results.length > 0, `both instances sent (${a.results.length} / ${b.results.length})`);
      for (const r of a.results) assert.ok(r.line?.startsWith('a-'), `${r.messageId} went out on ${r.line}`);
      for (const r of b.results) assert.ok(r.line?.startsWith('b-'), `${r.messageId} went out on ${r.line}`);
      assert.deepEqual(ledger.duplicates(), []);
      assert.equal(ledger.sent.length, 60);
      assert.equal(await a.queue.claimedCount(), 0);
    });
  }
});
