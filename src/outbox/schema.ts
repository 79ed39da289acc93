/**
 * The outbox's SQLite schema and its migrations, kept in the store's user_version.
 */
import type { Connection } from './sqlite-driver';

/** MIGRATIONS[n] takes a store from user_version n to n + 1. Append, never edit a shipped one. */
const MIGRATIONS = [
  `
  CREATE TABLE batches (
    seq INTEGER PRIMARY KEY,            -- enqueue order: claim() takes the oldest batch first
    batch_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    line TEXT,
    node_id TEXT NOT NULL,
    meta TEXT NOT NULL,
    segments INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    recipient_count INTEGER NOT NULL,   -- msg.parts.count, stable even after a partial purge
    created_at INTEGER NOT NULL
  );
  CREATE TABLE recipients (
    message_id TEXT PRIMARY KEY,
    batch_seq INTEGER NOT NULL REFERENCES batches (seq),
    idx INTEGER NOT NULL,
    number TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'sent', 'failed')),
    line TEXT,
    send_id INTEGER,
    tel_id INTEGER,
    sms_no INTEGER,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    excluded_lines TEXT NOT NULL DEFAULT '[]',
    delivery_state INTEGER,
    delivered_at INTEGER,
    sent_at INTEGER,
    updated_at INTEGER NOT NULL,
    UNIQUE (batch_seq, idx)
  );
  -- claim (queued in batch order), resume (claimed), the counts and purge
  CREATE INDEX recipients_by_state ON recipients (state, batch_seq, idx);
  -- delivery correlation
  CREATE INDEX recipients_sent_by_sms_no ON recipients (line, sms_no, sent_at) WHERE state = 'sent';
  CREATE TABLE line_usage (
    line TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (line, day)
  ) WITHOUT ROWID;
  CREATE TABLE send_ids (
    line TEXT PRIMARY KEY,
    last INTEGER NOT NULL               -- the sendId handed out last
  ) WITHOUT ROWID;
  `,
  // Fleet (issue #12): the routing group a recipient may go out in ('' = the lines in no group),
  // and every send of a line with its time, for the rolling hourly limit.
  `
  ALTER TABLE recipients ADD COLUMN route_group TEXT NOT NULL DEFAULT '';
  CREATE TABLE line_sends (
    line TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX line_sends_by_line ON line_sends (line, at);
  `,
  // Parts of long inbound SMS waiting for their continuation (src/outbox/held-parts.ts).
  `
  CREATE TABLE held_parts (
    seq INTEGER PRIMARY KEY,            -- arrival order: a chain is joined in it
    line TEXT NOT NULL,
    sender TEXT NOT NULL,
    event TEXT NOT NULL,                -- the part's sms event as JSON
    held_at INTEGER NOT NULL
  );
  CREATE INDEX held_parts_by_chain ON held_parts (line, sender, seq);
  `,
];

/** Brings the schema to the newest version; refuses a store written by a newer version. */
export function migrate(db: Connection): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`outbox: store schema version ${version} is newer than this version knows (${MIGRATIONS.length})`);
  }
  db.transaction(() => {
    for (let next = version; next < MIGRATIONS.length; next++) db.exec(MIGRATIONS[next]);
    db.pragma(`user_version = ${MIGRATIONS.length}`, { simple: true });
  })();
}
