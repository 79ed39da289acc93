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
import { LineLease } from '../../../src/gateway/line-lease';

const PASSWORD = 'pgpw';

const LEASE_MS = 30_000;

interface Instance {
  name: string;
  server: GoipServer;
  sender: BulkSender;
  lines: SimLine[];
  queue: PgQueue;
  presence: LinePresence;
  /** Renewed by the test (renewNow) rather than on its timer. */
  lease: LineLease;
  /** The lines the lease told as newly this instance's, in order. */
  taken: string[][];
  wake: PgWake;
  results: Recipient[];
}

interface InstanceOptions {
  /** The lines that register to this instance. */
  own: string[];
  /** Every line it is configured for (default its own). */
  devices?: string[];
  ledger: Ledger;
  sim: Partial<SimLineOptions>;
  /** The clock of the leases (a test moves it past one). */
  clock?: () => number;
}

async function startInstance(pool: pg.Pool, url: string, name: string, options: InstanceOptions): Promise<Instance> {
  const devices = options.devices ?? options.own;
  const server = new GoipServer({ bind: '127.0.0.1', port: 0, devices: devices.map((id) => ({ id, password: PASSWORD })) });
  const { port } = await server.start();
  const lines = options.own.map(
    (id) => new SimLine({ id, password: PASSWORD, server: { host: '127.0.0.1', port }, ledger: options.ledger, smsRadioTimeMs: 5, ...options.sim }),
  );
  const online = linesOnline(server, options.own);
  await Promise.all(lines.map((line) => line.start()));
  await online;
  const clock = options.clock ?? Date.now;
  const presence = new LinePresence(pool, name, LEASE_MS, clock);
  await presence.announce(devices, null);
  const queue = new PgQueue(pool, { instance: name, leaseMs: LEASE_MS, now: clock });
  const sender = new BulkSender(server, queue, { stepTimeoutMs: 80, waitRecheckMs: 300 });
  const results: Recipient[] = [];
  sender.on('result', (r) => results.push(r));
  sender.on('warning', (err) => {
    throw err;
  });
  sender.start();
  const wake = new PgWake({ connectionString: url }, () => sender.kick());
  await wake.start();
  const taken: string[][] = [];
  const lease = new LineLease(
    {
      presence,
      onlineLines: () => server.lines().filter((line) => line.online).map((line) => line.id),
      taken: (newly) => {
        taken.push(newly);
        sender.resumeClaimed();
        sender.kick();
      },
      warn: (err) => {
        throw err;
      },
    },
    LEASE_MS,
  );
  await lease.renewNow();
  return { name, server, sender, lines, queue, presence, lease, taken, wake, results };
}

/** Resolves once every line of `ids` is online at `server`. */
function linesOnline(server: GoipServer, ids: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const seen = new Set<string>();
    const onEvent = (e: { event: string; line: string }): void => {
      if (e.event === 'online' && ids.includes(e.line)) seen.add(e.line);
      if (seen.size < ids.length) return;
      server.off('event', onEvent);
      resolve();
    };
    server.on('event', onEvent);
  });
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
      instances = [await startInstance(pool, url, 'a', { own: lineIds(3, 'a-'), ledger, sim }), await startInstance(pool, url, 'b', { own: lineIds(3, 'b-'), ledger, sim })];
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

  it('takes the lines of an instance that died in the middle of a batch over once its lease lapsed: every number on the air once', async () => {
    const url = cluster.createDatabase(`engine_${++databases}`);
    pool = openPool({ connectionString: url, maxConnections: 10 });
    await migratePg(pool, 'goip');
    let leaseClock = 0;
    const clock = (): number => Date.now() + leaseClock;
    const ledger = new Ledger();
    const ownA = lineIds(3, 'a-');
    const ownB = lineIds(3, 'b-');
    const devices = [...ownA, ...ownB];
    const sim = { smsRadioTimeMs: 20 };
    instances = [
      await startInstance(pool, url, 'a', { own: ownA, devices, ledger, sim, clock }),
      await startInstance(pool, url, 'b', { own: ownB, devices, ledger, sim, clock }),
    ];
    const [a, b] = instances;
    const count = 120;
    const recipients = numbers('4931', count).map((number, i) => ({ messageId: `to-${i}`, number }));
    const quarter = new Promise<void>((resolve) => a.sender.on('result', () => a.results.length >= 15 && resolve()));
    await a.queue.enqueue({ batchId: 'takeover', text: 'failover', line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients });
    a.sender.kick();
    await quarter;

    // A dies: its sessions stop where they are, their claims and its lease stay in the store.
    await a.wake.stop();
    await a.sender.stop();
    await a.server.stop();
    const claimedOnA = (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM recipients WHERE state = 'claimed' AND line LIKE 'a-%'")).rows[0].n;
    // Its lines find the SMS server at B (the floating address moved), their sessions kept.
    const movedOnline = linesOnline(b.server, ownA);
    for (const line of a.lines) await line.moveTo({ host: '127.0.0.1', port: (b.server.address() as { port: number }).port });
    await movedOnline;
    await b.lease.renewNow();
    assert.deepEqual(b.taken, [ownB], "a's lease holds: nothing taken yet");
    leaseClock += LEASE_MS + 1;
    const finished = new Promise<void>((resolve) => {
      b.sender.on('result', async () => {
        const open = await pool?.query<{ n: number }>("SELECT count(*)::int AS n FROM recipients WHERE state IN ('queued', 'claimed')");
        if (open?.rows[0].n === 0) resolve();
      });
    });
    await b.lease.renewNow();
    assert.deepEqual(b.taken, [ownB, ownA], "a's lines taken over, their claimed numbers resumed");
    await finished;

    const { rows } = await pool.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM recipients GROUP BY state');
    assert.deepEqual(rows, [{ state: 'sent', n: count }]);
    assert.deepEqual(ledger.duplicates(), [], 'no number on the air twice');
    assert.equal(ledger.sent.length, count);
    assert.ok(claimedOnA > 0, 'A died with numbers claimed in open sessions');
    assert.ok(b.results.some((r) => r.line?.startsWith('a-')), "B sent on A's lines after the takeover");
  });
});
