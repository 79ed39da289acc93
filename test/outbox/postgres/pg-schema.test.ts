/**
 * The shared store's schema on a real PostgreSQL (a throwaway cluster): created on an empty
 * database, one migration when two instances start at once, nothing to do the next time, a
 * schema written by a newer version refused, and the connection options checked.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { checkSchemaName, openPool } from '../../../src/outbox/postgres/pg-pool';
import { migratePg, PG_SCHEMA_VERSION } from '../../../src/outbox/postgres/pg-schema';
import { PgCluster } from '../../helpers/postgres';

describe('postgres store: schema and migrations', function () {
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

  const pool = (url: string, schema = 'goip'): pg.Pool => {
    const created = openPool({ connectionString: url, schema });
    pools.push(created);
    return created;
  };
  const database = (): string => cluster.createDatabase(`schema_${++databases}`);

  it('creates the schema and every table on an empty database, then has nothing to do', async () => {
    const url = database();
    const first = pool(url);
    assert.deepEqual(await migratePg(first, 'goip'), { from: 0, to: PG_SCHEMA_VERSION });
    assert.deepEqual(await migratePg(first, 'goip'), { from: PG_SCHEMA_VERSION, to: PG_SCHEMA_VERSION });
    const { rows } = await first.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'goip' ORDER BY table_name",
    );
    assert.deepEqual(
      rows.map((row) => row.table_name),
      ['batches', 'blocked_numbers', 'held_parts', 'inbox', 'inbox_pending', 'inbox_takes', 'instances', 'line_presence', 'line_sends', 'line_usage', 'number_lines', 'recipients', 'schema_version', 'send_ids'],
    );
  });

  it('migrates once when two instances start at once on an empty database', async () => {
    const url = database();
    const results = await Promise.all([migratePg(pool(url), 'goip'), migratePg(pool(url), 'goip'), migratePg(pool(url), 'goip')]);
    const migrations = results.filter((result) => result.from === 0);
    assert.equal(migrations.length, 1, JSON.stringify(results));
    for (const result of results) assert.equal(result.to, PG_SCHEMA_VERSION);
  });

  it('keeps schemas apart: two stores in one database', async () => {
    const url = database();
    await migratePg(pool(url, 'site_a'), 'site_a');
    await migratePg(pool(url, 'site_b'), 'site_b');
    await pool(url, 'site_a').query("INSERT INTO send_ids (line, last) VALUES ('l1', 5)");
    const { rows } = await pool(url, 'site_b').query('SELECT * FROM send_ids');
    assert.deepEqual(rows, []);
  });

  it('reads bigint columns as numbers', async () => {
    const url = database();
    const store = pool(url);
    await migratePg(store, 'goip');
    await store.query("INSERT INTO line_presence (line, instance, renewed_at) VALUES ('l1', 'a', 1765000000000)");
    const { rows } = await store.query<{ renewed_at: number }>('SELECT renewed_at FROM line_presence');
    assert.equal(rows[0].renewed_at, 1_765_000_000_000);
  });

  it('refuses a schema written by a newer version', async () => {
    const url = database();
    const store = pool(url);
    await migratePg(store, 'goip');
    await store.query('UPDATE schema_version SET version = version + 1');
    await assert.rejects(migratePg(store, 'goip'), /newer than this version knows/);
  });

  it('lives through the server stopping under idle connections, and works again once it is back', async () => {
    const url = database();
    const idleErrors: Error[] = [];
    const store = openPool({ connectionString: url, onIdleError: (err) => idleErrors.push(err) });
    pools.push(store);
    await migratePg(store, 'goip');
    await Promise.all([store.query('SELECT 1'), store.query('SELECT 2')]);
    cluster.stopServer();
    await assert.rejects(store.query('SELECT 1'), /ECONNREFUSED|terminat|connect/);
    cluster.startServer();
    // A connection the server cut may fail once more as it is found out; the pool then connects anew.
    let answer: unknown = null;
    for (let attempt = 0; attempt < 4 && answer === null; attempt++) {
      answer = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM send_ids').then(
        (result) => result.rows,
        (err: Error) => {
          assert.match(err.message, /terminat|connect|ECONN/);
          return null;
        },
      );
    }
    assert.deepEqual(answer, [{ n: 0 }]);
    // An idle connection's end may come as an event (told to onIdleError, the process lives on) or at its next use.
    for (const err of idleErrors) assert.match(err.message, /terminat|connect|ECONN/);
  });

  it('refuses a schema name that is not a plain SQL name', () => {
    assert.equal(checkSchemaName('goip_2'), 'goip_2');
    for (const bad of ['Goip', 'goip; DROP TABLE x', '', '1goip', 'a-b']) assert.throws(() => checkSchemaName(bad), /not a plain lower-case SQL name/);
  });
});
