/** The inbox's SQLite log: its migration from schema 5, the history query plans, takes and reply correlation. */
import assert from 'node:assert/strict';
import { SqliteOutbox } from '../../src/outbox';
import { inboxQuerySql } from '../../src/outbox/inbox-query';
import { numberTail } from '../../src/pdu/numbers';
import { MIGRATIONS, migrate } from '../../src/outbox/schema';
import { openConnection } from '../../src/outbox/sqlite-driver';
import type { GoipEvent } from '../../src/link';

const T0 = Date.UTC(2026, 0, 1);

function sms(line: string, from: string, text: string, at: number): GoipEvent {
  return { event: 'sms', line, from, payload: text, fields: {}, receivedAt: at };
}

function store(): { outbox: SqliteOutbox; db: ReturnType<typeof openConnection>['db'] } {
  const outbox = SqliteOutbox.open(':memory:');
  return { outbox, db: (outbox as unknown as { db: ReturnType<typeof openConnection>['db'] }).db };
}

function put(outbox: SqliteOutbox, event: GoipEvent): number {
  return outbox.transaction(() =>
    outbox.inbox().insert({ kind: 'sms', line: event.line, sender: event.from ?? '', text: String(event.payload), receivedAt: event.receivedAt, parts: 1, messageId: null, status: null, event, reportKey: null, handed: false }),
  );
}

describe('inbox log (SQLite)', () => {
  it('migrates a schema-5 store: its rows kept, an empty inbox added', () => {
    const { db } = openConnection(':memory:');
    for (const migration of MIGRATIONS.slice(0, 5)) db.exec(migration);
    db.exec(`INSERT INTO batches (seq, batch_id, text, line, node_id, meta, segments, encoding, recipient_count, created_at) VALUES (1, 'old', 'hi', NULL, 'n', '{}', 1, 'GSM-7', 1, ${T0});
      INSERT INTO recipients (message_id, batch_seq, idx, number, state, line, sent_at, updated_at) VALUES ('old-0', 1, 0, '+8613800138000', 'sent', 'goip01', ${T0}, ${T0});`);
    db.pragma('user_version = 5', { simple: true });
    migrate(db);
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.deepEqual(db.prepare<{ n: number }>('SELECT count(*) AS n FROM inbox').get(), { n: 0 });
    // Restart de-duplication reads recent reports by time: no index per report key to write.
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'inbox_by_report'").all(), []);
    assert.deepEqual(db.prepare<{ number_tail: string }>("SELECT number_tail FROM recipients WHERE message_id = 'old-0'").get(), { number_tail: '0138000' });
    db.close();
  });

  it('migrates a schema-6 store: what was still untaken stays pending, the rest stays taken', () => {
    const { db } = openConnection(':memory:');
    db.pragma('foreign_keys = ON', { simple: true });
    for (const migration of MIGRATIONS.slice(0, 6)) db.exec(migration);
    db.exec(`INSERT INTO inbox (inbox_id, kind, line, sender, sender_tail, text, received_at, parts, event, report_key, out_at)
      VALUES (1, 'sms', 'goip01', '+1', '1', 'taken', ${T0}, 1, '{}', 11, ${T0}), (2, 'sms', 'goip01', '+1', '1', 'untaken', ${T0}, 1, '{}', 12, NULL);`);
    db.pragma('user_version = 6', { simple: true });
    migrate(db);
    assert.deepEqual(db.prepare('SELECT inbox_id FROM inbox_pending').all(), [{ inbox_id: 2 }]);
    assert.deepEqual(db.prepare('SELECT inbox_id, bucket FROM inbox ORDER BY inbox_id').all(), [{ inbox_id: 1, bucket: 0 }, { inbox_id: 2, bucket: 0 }]);
    db.close();
  });

  it('answers the history filters and the untaken page from indexes, not a scan of the inbox', () => {
    const { outbox, db } = store();
    const plan = (sql: string, params: Record<string, unknown>, bucketed = false): string =>
      db.prepare<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all({ ...params, before: 1, chunk: 1, ...(bucketed ? { buckets: '[0]' } : {}) }).map((row) => row.detail).join(' | ');
    const cases: Array<[Parameters<typeof inboxQuerySql>[0], string | null, RegExp]> = [
      [{ limit: 10, from: '+8613800138000' }, '13800138000', /USING INDEX inbox_by_sender \(bucket=\? AND sender_tail=\? AND inbox_id<\?\)/],
      [{ limit: 10, line: 'goip01' }, null, /USING INDEX inbox_by_line \(bucket=\? AND line=\? AND inbox_id<\?\)/],
      [{ limit: 10, kind: 'delivery' }, null, /USING INDEX inbox_by_kind \(kind=\? AND inbox_id<\?\)/],
      [{ limit: 10 }, null, /SEARCH inbox USING INTEGER PRIMARY KEY \(rowid<\?\)/],
    ];
    for (const [query, tail, expected] of cases) {
      const { sql, params, bucketed } = inboxQuerySql(query, tail);
      const detail = plan(sql, params, bucketed);
      assert.match(detail, expected, `${JSON.stringify(query)}: ${detail}`);
      assert.doesNotMatch(detail, /SCAN inbox\b/, detail);
    }
    const untaken = plan(
      `SELECT i.inbox_id FROM inbox_pending p JOIN inbox i ON i.inbox_id = p.inbox_id WHERE p.inbox_id > @after ORDER BY p.inbox_id LIMIT @limit`,
      { after: 0, limit: 1 },
    );
    assert.match(untaken, /SEARCH p USING INTEGER PRIMARY KEY \(rowid>\?\)/, untaken);
    assert.doesNotMatch(untaken, /SCAN i\b/, untaken);
    outbox.close();
  });

  it('pages newest first behind a cursor, compares the sender in full and the text in any case', () => {
    const { outbox } = store();
    const log = outbox.inbox();
    for (let i = 0; i < 5; i++) put(outbox, sms('goip01', '+8613800138000', `Code ${i}`, T0 + i));
    put(outbox, sms('goip02', '+8513800138000', 'code other country', T0 + 10));
    const first = log.query({ limit: 2, from: '13800138000'.replace(/^/, '+86') });
    assert.deepEqual(first.rows.map((r) => r.text), ['Code 4', 'Code 3']);
    const second = log.query({ limit: 10, from: '+8613800138000', before: Number(first.next) });
    assert.deepEqual(second.rows.map((r) => r.text), ['Code 2', 'Code 1', 'Code 0']);
    assert.equal(second.next, null);
    assert.deepEqual(log.query({ limit: 10, text: 'CODE' }).rows.length, 6);
    assert.deepEqual(log.query({ limit: 10, text: 'other', line: 'goip02' }).rows.map((r) => r.sender), ['+8513800138000']);
    assert.deepEqual(log.query({ limit: 10, since: T0 + 3, until: T0 + 5 }).rows.map((r) => r.text), ['Code 4', 'Code 3']);
    outbox.close();
  });

  it('finds a sender and a line across buckets and statements far apart, newest first, and ends without a cursor', () => {
    const { outbox, db } = store();
    const log = outbox.inbox();
    // Ids far apart: each a bucket and a statement's window of buckets away from the next.
    const ids = [3, 300_000, 700_000, 700_001];
    const row = db.prepare(`INSERT INTO inbox (inbox_id, kind, line, sender, sender_tail, text, received_at, parts, event)
      VALUES (@id, 'sms', @line, @sender, @tail, @text, @at, 1, '{}')`);
    ids.forEach((id, i) => {
      const sender = i === 3 ? '+447700908000' : '+8613800138000';
      row.run({ id, line: i % 2 === 0 ? 'goip01' : 'goip02', sender, tail: numberTail(sender), text: `m${i}`, at: T0 + i });
    });
    const first = log.query({ limit: 2, from: '+8613800138000' });
    assert.deepEqual(first.rows.map((r) => r.text), ['m2', 'm1']);
    const rest = log.query({ limit: 2, from: '+8613800138000', before: Number(first.next) });
    assert.deepEqual([rest.rows.map((r) => r.text), rest.next], [['m0'], null]);
    assert.deepEqual(log.query({ limit: 10, line: 'goip01' }).rows.map((r) => r.text), ['m2', 'm0']);
    assert.deepEqual(log.query({ limit: 10, from: '+15550008000' }), { rows: [], next: null });
    outbox.close();
  });

  it('keeps a message untaken until every consumer took it, and purges it with the retention', () => {
    const { outbox } = store();
    const log = outbox.inbox();
    const id = put(outbox, sms('goip01', '+1', 'hi', T0));
    const any = { kinds: null, line: null };
    log.taken([], [{ inboxId: id, nodeId: 'a' }]);
    assert.deepEqual(log.untaken('a', any, 0, 10), []);
    assert.deepEqual(log.untaken('b', any, 0, 10).map((m) => m.inboxId), [id]);
    assert.deepEqual(log.takesOf(id), ['a']);
    log.taken([id], []);
    assert.deepEqual(log.untaken('b', any, 0, 10), []);
    assert.deepEqual(log.takesOf(id), []);
    assert.equal(log.query({ limit: 10 }).rows.length, 1);
    outbox.purge(1, T0 + 10_000);
    assert.equal(log.query({ limit: 10 }).rows.length, 0);
    outbox.close();
  });
});
