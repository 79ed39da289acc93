/**
 * The shared queue's wake on a real PostgreSQL: an enqueue on one instance wakes the listeners of
 * its schema (not those of another schema), and a listener whose server went away listens again
 * once it is back, with one look for the work it may have missed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { openPool } from '../../../src/outbox/postgres/pg-pool';
import { PgQueue } from '../../../src/outbox/postgres/pg-queue';
import { migratePg } from '../../../src/outbox/postgres/pg-schema';
import { PgWake } from '../../../src/outbox/postgres/pg-wake';
import { PgCluster } from '../../helpers/postgres';

describe('postgres store: the queue wake', function () {
  this.timeout(60_000);
  let cluster: PgCluster;
  const pools: pg.Pool[] = [];
  const wakes: PgWake[] = [];

  before(async function () {
    cluster = await PgCluster.startFor(this);
  });
  after(async () => {
    await Promise.all(wakes.map((wake) => wake.stop()));
    await Promise.all(pools.map((pool) => pool.end()));
    cluster?.stop();
  });

  /** A listener on `schema` whose wakes are 'work' events. */
  async function listener(url: string, schema: string): Promise<EventEmitter> {
    const events = new EventEmitter();
    const wake = new PgWake({ connectionString: url, schema }, () => events.emit('work'), (err) => events.emit('lost', err));
    wakes.push(wake);
    const first = once(events, 'work');
    await wake.start();
    await first; // a listener looks once as it starts
    return events;
  }

  it('wakes the listeners of the store an enqueue went to, and listens again after the server was away', async () => {
    const url = cluster.createDatabase('wake');
    const pool = openPool({ connectionString: url, onIdleError: () => undefined });
    pools.push(pool);
    await migratePg(pool, 'goip');
    const other = openPool({ connectionString: url, schema: 'other', onIdleError: () => undefined });
    pools.push(other);
    await migratePg(other, 'other');
    const goip = await listener(url, 'goip');
    const elsewhere = await listener(url, 'other');
    let strayWakes = 0;
    elsewhere.on('work', () => strayWakes++);

    const woken = once(goip, 'work');
    const recipients = [{ messageId: 'w-0', number: '+4930111' }];
    await new PgQueue(pool, { instance: 'a', leaseMs: 30_000 }).enqueue({ batchId: 'w', text: 'x', line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients });
    await woken;
    // Both listeners got whatever this commit notified by the time a later notification of the other store arrives.
    const otherWoken = once(elsewhere, 'work');
    await new PgQueue(other, { instance: 'a', leaseMs: 30_000 }).enqueue({ batchId: 'w2', text: 'x', line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients });
    await otherWoken;
    assert.equal(strayWakes, 1, 'the store of another schema was woken by its own enqueue only');

    const lost = once(goip, 'lost');
    cluster.stopServer();
    await lost;
    const back = once(goip, 'work');
    cluster.startServer();
    await back;
  });
});
