/** WalSync: commits at synchronous=NORMAL made durable by one fdatasync off the loop, shared by the commits made while it runs; which stores receive. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openConnection } from '../../src/outbox/sqlite-driver';
import { isReceivingStore, SqliteOutbox } from '../../src/outbox';
import { UnitTransaction, WalSync } from '../../src/outbox/wal-sync';
import { MemoryOutbox } from '../helpers/memory-outbox';
import { countSyncs } from '../helpers/sync-count';

describe('WalSync', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-wal-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function store(): { db: ReturnType<typeof openConnection>['db']; file: string } {
    const file = path.join(dir, 'store.db');
    const { db } = openConnection(file);
    db.pragma('journal_mode = WAL', { simple: true });
    db.pragma('synchronous = FULL', { simple: true });
    db.exec('CREATE TABLE t (v INTEGER)');
    return { db, file };
  }

  it('commits at NORMAL, puts FULL back, and tells durable only after the sync; commits meanwhile share the next sync', () => {
    const { db, file } = store();
    const syncs: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    const wal = new WalSync(db, `${file}-wal`, (_fd, done) => syncs.push(done));
    const told: string[] = [];
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const levels: unknown[] = [];
    wal.commit(() => {
      levels.push(db.pragma('synchronous', { simple: true }));
      insert.run(1);
    }, (err) => told.push(`1:${err}`));
    assert.deepEqual(levels, [1]);
    assert.equal(db.pragma('synchronous', { simple: true }), 2);
    wal.commit(() => insert.run(2), (err) => told.push(`2:${err}`));
    wal.commit(() => insert.run(3), (err) => told.push(`3:${err}`));
    assert.equal(syncs.length, 2, 'two syncs at most');
    assert.deepEqual(told, []);
    syncs.shift()?.(null);
    assert.deepEqual(told, ['1:null']);
    assert.equal(syncs.length, 2, 'the third commit gets a sync of its own once one returned');
    syncs.shift()?.(Object.assign(new Error('EIO'), { code: 'EIO' }));
    assert.deepEqual(told, ['1:null', '2:Error: EIO']);
    syncs.shift()?.(null);
    assert.deepEqual(told, ['1:null', '2:Error: EIO', '3:null']);
    assert.equal(syncs.length, 0);
    wal.close();
    db.close();
  });

  it('does not tell durable for a commit that threw, and syncs what waits at close on the thread', () => {
    const { db, file } = store();
    const syncs: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    const wal = new WalSync(db, `${file}-wal`, (_fd, done) => syncs.push(done));
    const told: string[] = [];
    assert.throws(() => wal.commit(() => { throw new Error('no'); }, () => told.push('thrown')), /no/);
    assert.equal(db.pragma('synchronous', { simple: true }), 2);
    wal.commit(() => db.exec('INSERT INTO t (v) VALUES (1)'), (err) => told.push(`a:${err}`));
    wal.commit(() => db.exec('INSERT INTO t (v) VALUES (2)'), (err) => told.push(`b:${err}`));
    wal.close();
    assert.deepEqual(told, ['a:null', 'b:null'], 'what waits is synced on the thread at close');
    syncs.splice(0).forEach((done) => done(null));
    assert.deepEqual(told, ['a:null', 'b:null']);
    assert.throws(() => wal.commit(() => undefined, () => undefined), /closed/);
    db.close();
  });

  it('tells the earlier commits in order when a later sync returns first', () => {
    const { db, file } = store();
    const syncs: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    const wal = new WalSync(db, `${file}-wal`, (_fd, done) => syncs.push(done));
    const told: number[] = [];
    for (const n of [1, 2]) wal.commit(() => db.exec(`INSERT INTO t (v) VALUES (${n})`), () => told.push(n));
    syncs[1](null);
    assert.deepEqual(told, [1, 2], 'the second sync started after both commits: it covers both');
    syncs[0](null);
    assert.deepEqual(told, [1, 2]);
    wal.close();
    db.close();
  });

  it('runs a unit of work as one transaction at NORMAL, synced once on the thread, and only when it changed something', () => {
    const { db, file } = store();
    const wal = new WalSync(db, `${file}-wal`, () => assert.fail('no sync off the thread'));
    const totalChanges = db.prepare<{ n: number }>('SELECT total_changes() AS n');
    const unit = new UnitTransaction(db, wal, () => (totalChanges.get() as { n: number }).n);
    const syncs = countSyncs();
    try {
      const levels: unknown[] = [];
      unit.call(() => {
        levels.push(db.pragma('synchronous', { simple: true }));
        db.exec('INSERT INTO t (v) VALUES (1)');
      });
      unit.call(() => db.exec('INSERT INTO t (v) VALUES (2)'));
      assert.deepEqual(levels, [1]);
      unit.commit();
      assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL again after the unit');
      assert.equal(syncs.count, 0);
      wal.syncNow();
      assert.equal(syncs.count, 1, 'one sync for the unit');
      unit.call(() => db.prepare('SELECT count(*) FROM t').get());
      unit.commit();
      wal.syncNow();
      assert.equal(syncs.count, 1, 'a unit that changed nothing: no sync');
      unit.call(() => db.exec('INSERT INTO t (v) VALUES (3)'));
      unit.commit();
      wal.close();
      assert.equal(syncs.count, 2, 'close syncs the unit still unsynced');
    } finally {
      syncs.restore();
    }
    assert.equal((db.prepare<{ n: number }>('SELECT count(*) AS n FROM t').get() as { n: number }).n, 3);
    db.close();
  });

  it('is durable at once for a store in memory', () => {
    const { db } = openConnection(':memory:');
    const wal = new WalSync(db, null, () => assert.fail('nothing to sync'));
    let told = false;
    wal.commit(() => undefined, (err) => (told = err === null));
    assert.equal(told, true);
    wal.close();
    db.close();
  });
});

describe('isReceivingStore', () => {
  it('tells the SQLite store, which keeps the inbox and the held parts, from an outbox that keeps only the queue', () => {
    const store = SqliteOutbox.open(':memory:');
    assert.equal(isReceivingStore(store), true);
    assert.equal(isReceivingStore(new MemoryOutbox()), false);
    store.close();
  });
});
