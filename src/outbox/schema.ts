/**
 * The outbox's SQLite schema and its migrations, kept in the store's user_version.
 */
import type { Connection } from './sqlite-driver';

/** MIGRATIONS[n] takes a store from user_version n to n + 1. Append, never edit a shipped one. */
export const MIGRATIONS = [
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
  // The operator's queue: priority (0 high, 1 normal, 2 low), sendAt, expiry, the
  // states expired/cancelled/blocked (a CHECK cannot be altered: the table is rebuilt), the
  // block list, and indexes for the +CDS lookup by send time and for retention.
  `
  ALTER TABLE batches ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE batches ADD COLUMN send_at INTEGER;
  CREATE TABLE recipients_v2 (
    message_id TEXT PRIMARY KEY,
    batch_seq INTEGER NOT NULL REFERENCES batches (seq),
    idx INTEGER NOT NULL,
    number TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'sent', 'failed', 'expired', 'cancelled', 'blocked')),
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
    priority INTEGER NOT NULL DEFAULT 1, -- the batch's, here so the claim order is one index
    expires_at INTEGER,
    UNIQUE (batch_seq, idx)
  );
  INSERT INTO recipients_v2 (message_id, batch_seq, idx, number, state, line, send_id, tel_id, sms_no, error, attempts,
                             excluded_lines, delivery_state, delivered_at, sent_at, updated_at)
    SELECT message_id, batch_seq, idx, number, state, line, send_id, tel_id, sms_no, error, attempts,
           excluded_lines, delivery_state, delivered_at, sent_at, updated_at FROM recipients;
  DROP TABLE recipients;
  ALTER TABLE recipients_v2 RENAME TO recipients;
  CREATE INDEX recipients_by_state ON recipients (state, batch_seq, idx);
  CREATE INDEX recipients_sent_by_sms_no ON recipients (line, sms_no, sent_at) WHERE state = 'sent';
  -- claim: highest priority, then oldest batch
  CREATE INDEX recipients_claim_order ON recipients (state, priority, batch_seq, idx);
  -- +CDS correlation: the sends of a line around a time
  CREATE INDEX recipients_sent_by_time ON recipients (line, sent_at) WHERE state = 'sent';
  CREATE INDEX recipients_expiry ON recipients (expires_at) WHERE state = 'queued' AND expires_at IS NOT NULL;
  -- retention
  CREATE INDEX recipients_final_by_age ON recipients (updated_at) WHERE state NOT IN ('queued', 'claimed');
  CREATE INDEX batches_send_at ON batches (send_at) WHERE send_at IS NOT NULL;
  CREATE TABLE blocked_numbers (
    number TEXT PRIMARY KEY,
    keyword TEXT,
    line TEXT,
    blocked_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // Fleet: the routing group a recipient may go out in ('' = the lines in no group),
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
  // When the flow took a final recipient's result (ms epoch); NULL = its goip-send emits it again
  // after a restart (src/outbox/result-log.ts). Results of a store written before are taken.
  `
  ALTER TABLE recipients ADD COLUMN result_out INTEGER;
  UPDATE recipients SET result_out = updated_at WHERE state NOT IN ('queued', 'claimed');
  CREATE INDEX recipients_unreported ON recipients (batch_seq, idx) WHERE result_out IS NULL AND state NOT IN ('queued', 'claimed');
  `,
  // The inbox (src/outbox/inbox-log.ts): every received SMS (joined) and delivery report, stored
  // before its ack; out_at NULL while a goip-in has still to take it. The number tails let a
  // history query by sender, and the reply correlation by recipient, search an index; the
  // numbers are then compared in full (src/pdu/numbers.ts).
  `
  CREATE TABLE inbox (
    inbox_id INTEGER PRIMARY KEY,       -- receive order
    kind TEXT NOT NULL CHECK (kind IN ('sms', 'delivery')),
    line TEXT NOT NULL,
    sender TEXT NOT NULL,               -- sms: who sent it; delivery: the number the report is about
    sender_tail TEXT NOT NULL,          -- numberTail(sender)
    text TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    parts INTEGER NOT NULL,
    message_id TEXT,
    status TEXT,
    event TEXT NOT NULL,                -- the event as JSON: emitted again from it
    report_key INTEGER,                 -- the server's de-duplication key of a RECEIVE/DELIVER
    handed INTEGER NOT NULL DEFAULT 0,  -- a goip-in had it: emitted again it is redelivered
    out_at INTEGER
  );
  CREATE INDEX inbox_by_sender ON inbox (sender_tail, inbox_id);
  CREATE INDEX inbox_by_line ON inbox (line, inbox_id);
  CREATE INDEX inbox_by_kind ON inbox (kind, inbox_id);
  CREATE INDEX inbox_by_time ON inbox (received_at);
  CREATE INDEX inbox_untaken ON inbox (inbox_id) WHERE out_at IS NULL;
  CREATE INDEX inbox_by_report ON inbox (line, report_key) WHERE report_key IS NOT NULL;
  -- takes by one goip-in of a message other goip-in nodes have still to take
  CREATE TABLE inbox_takes (
    inbox_id INTEGER NOT NULL REFERENCES inbox (inbox_id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    PRIMARY KEY (inbox_id, node_id)
  ) WITHOUT ROWID;
  ALTER TABLE recipients ADD COLUMN number_tail TEXT GENERATED ALWAYS AS
    (substr(replace(replace(replace(replace(replace(number, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), -7)) VIRTUAL;
  CREATE INDEX recipients_sent_by_number ON recipients (number_tail, sent_at) WHERE state = 'sent';
  `,
  // Received SMS written at peer speed (src/outbox/inbox-query.ts). An index on (line, inbox_id)
  // keeps each line's newest entry on a page of its own, so a commit of 32 SMS from 32 lines (or
  // senders) rewrote 32 of its pages: the sender and line indexes lead with a bucket of 256
  // consecutive inboxIds (INBOX_BUCKET_BITS), which keeps a commit's entries on a few pages.
  // A restarted server remembers recent report keys (read by time) instead of an index per key.
  // What goip-in has still to take is a small table of ids: a take deletes a key from it instead
  // of rewriting the message's row (and a partial index) as out_at did.
  `
  DROP INDEX inbox_by_report;
  DROP INDEX inbox_by_sender;
  DROP INDEX inbox_by_line;
  ALTER TABLE inbox ADD COLUMN bucket INTEGER GENERATED ALWAYS AS (inbox_id >> 8) VIRTUAL;
  CREATE INDEX inbox_by_sender ON inbox (bucket, sender_tail, inbox_id);
  CREATE INDEX inbox_by_line ON inbox (bucket, line, inbox_id);
  CREATE TABLE inbox_pending (inbox_id INTEGER PRIMARY KEY REFERENCES inbox (inbox_id) ON DELETE CASCADE);
  INSERT INTO inbox_pending SELECT inbox_id FROM inbox WHERE out_at IS NULL;
  DROP INDEX inbox_untaken;
  ALTER TABLE inbox DROP COLUMN out_at;
  -- the editor's sidebar reads the day's sends of every line at once
  CREATE INDEX line_usage_by_day ON line_usage (day);
  `,
  // Personalised batches: a recipient's own rendered text and its measure (NULL: the batch's).
  `
  ALTER TABLE recipients ADD COLUMN text TEXT;
  ALTER TABLE recipients ADD COLUMN segments INTEGER;
  ALTER TABLE recipients ADD COLUMN encoding TEXT;
  `,
  // Sticky lines: the line that last sent to each number, and how long a recipient keeps to it
  // (NULL: it does not).
  `
  ALTER TABLE recipients ADD COLUMN sticky_ms INTEGER;
  CREATE TABLE number_lines (
    number TEXT PRIMARY KEY,
    line TEXT NOT NULL,
    at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** The user_version of a store this version has migrated. */
export const SCHEMA_VERSION = MIGRATIONS.length;

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
