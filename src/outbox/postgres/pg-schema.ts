/**
 * The shared store's PostgreSQL schema and its migrations, kept in <schema>.schema_version. The
 * tables hold what the SQLite store holds (../schema.ts), shaped for several instances: line
 * presence (which instance a line is registered to, until its lease lapses) and the instances
 * with their configured lines. Two instances that
 * start at once migrate one after the other under an advisory lock: one migration, no error.
 */
import type pg from 'pg';
import { checkSchemaName, inTransaction } from './pg-pool';

/** PG_MIGRATIONS[n] takes a store from version n to n + 1. Append, never edit a shipped one. */
export const PG_MIGRATIONS = [
  `
  CREATE TABLE batches (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- enqueue order
    batch_id text NOT NULL UNIQUE,
    text text NOT NULL,
    line text,
    node_id text NOT NULL,
    meta jsonb NOT NULL,
    segments integer NOT NULL,
    encoding text NOT NULL,
    recipient_count integer NOT NULL,
    created_at bigint NOT NULL,
    priority smallint NOT NULL DEFAULT 1,
    send_at bigint
  );
  CREATE INDEX batches_send_at ON batches (send_at) WHERE send_at IS NOT NULL;
  CREATE TABLE recipients (
    message_id text PRIMARY KEY,
    batch_seq bigint NOT NULL REFERENCES batches (seq),
    idx integer NOT NULL,
    number text NOT NULL,
    number_tail text GENERATED ALWAYS AS (right(translate(number, ' -().', ''), 7)) STORED,
    state text NOT NULL CHECK (state IN ('queued', 'claimed', 'sent', 'failed', 'expired', 'cancelled', 'blocked')),
    line text,
    send_id integer,
    tel_id integer,
    sms_no integer,
    error text,
    attempts integer NOT NULL DEFAULT 0,
    excluded_lines jsonb NOT NULL DEFAULT '[]',
    route_group text NOT NULL DEFAULT '',
    delivery_state integer,
    delivered_at bigint,
    sent_at bigint,
    updated_at bigint NOT NULL,
    priority smallint NOT NULL DEFAULT 1,
    expires_at bigint,
    result_out bigint,
    UNIQUE (batch_seq, idx)
  );
  -- claim: highest priority, then the oldest batch, in its order
  CREATE INDEX recipients_claim_order ON recipients (priority, batch_seq, idx) WHERE state = 'queued';
  CREATE INDEX recipients_claimed ON recipients (line, send_id, tel_id) WHERE state = 'claimed';
  CREATE INDEX recipients_sent_by_sms_no ON recipients (line, sms_no, sent_at) WHERE state = 'sent';
  CREATE INDEX recipients_sent_by_time ON recipients (line, sent_at) WHERE state = 'sent';
  CREATE INDEX recipients_sent_by_number ON recipients (number_tail, sent_at) WHERE state = 'sent';
  CREATE INDEX recipients_expiry ON recipients (expires_at) WHERE state = 'queued' AND expires_at IS NOT NULL;
  CREATE INDEX recipients_final_by_age ON recipients (updated_at) WHERE state NOT IN ('queued', 'claimed');
  CREATE INDEX recipients_unreported ON recipients (batch_seq, idx) WHERE result_out IS NULL AND state NOT IN ('queued', 'claimed');
  CREATE TABLE line_usage (
    line text NOT NULL,
    day text NOT NULL,
    count integer NOT NULL,
    PRIMARY KEY (line, day)
  );
  CREATE INDEX line_usage_by_day ON line_usage (day);
  CREATE TABLE line_sends (
    line text NOT NULL,
    at bigint NOT NULL
  );
  CREATE INDEX line_sends_by_line ON line_sends (line, at);
  CREATE TABLE send_ids (
    line text PRIMARY KEY,
    last integer NOT NULL
  );
  CREATE TABLE blocked_numbers (
    number text PRIMARY KEY,
    keyword text,
    line text,
    blocked_at bigint NOT NULL
  );
  CREATE TABLE held_parts (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line text NOT NULL,
    sender text NOT NULL,
    event jsonb NOT NULL,
    held_at bigint NOT NULL
  );
  CREATE INDEX held_parts_by_chain ON held_parts (line, sender, seq);
  CREATE TABLE inbox (
    inbox_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- receive order
    kind text NOT NULL CHECK (kind IN ('sms', 'delivery')),
    line text NOT NULL,
    sender text NOT NULL,
    sender_tail text NOT NULL,
    text text NOT NULL,
    received_at bigint NOT NULL,
    parts integer NOT NULL,
    message_id text,
    status text,
    event jsonb NOT NULL,
    report_key bigint,
    handed boolean NOT NULL DEFAULT false,
    instance text NOT NULL              -- the instance that stored it (and emits it while it lives)
  );
  CREATE INDEX inbox_by_sender ON inbox (sender_tail, inbox_id);
  CREATE INDEX inbox_by_line ON inbox (line, inbox_id);
  CREATE INDEX inbox_by_kind ON inbox (kind, inbox_id);
  CREATE INDEX inbox_by_time ON inbox (received_at);
  CREATE TABLE inbox_pending (
    inbox_id bigint PRIMARY KEY REFERENCES inbox (inbox_id) ON DELETE CASCADE
  );
  CREATE TABLE inbox_takes (
    inbox_id bigint NOT NULL REFERENCES inbox (inbox_id) ON DELETE CASCADE,
    node_id text NOT NULL,
    PRIMARY KEY (inbox_id, node_id)
  );
  -- Which instance a line is registered to, renewed in batches; another instance takes the line
  -- (and its open sessions) over once renewed_at + the lease has passed.
  CREATE TABLE line_presence (
    line text PRIMARY KEY,
    instance text NOT NULL,
    renewed_at bigint NOT NULL
  );
  CREATE INDEX line_presence_by_instance ON line_presence (instance);
  -- Each instance's configured lines and routing groups: what the cluster can send is what any
  -- live instance (renewed within the lease) is configured for.
  CREATE TABLE instances (
    instance text PRIMARY KEY,
    lines text[] NOT NULL,
    groups text[],                      -- NULL: the instance routes no groups (every line in none)
    renewed_at bigint NOT NULL
  );
  `,
  // Personalised batches: a recipient's own rendered text and its measure (NULL: the batch's).
  `
  ALTER TABLE recipients ADD COLUMN text text, ADD COLUMN segments integer, ADD COLUMN encoding text;
  `,
  // Sticky lines: the line that last sent to each number, and how long a recipient keeps to it
  // (NULL: it does not).
  `
  ALTER TABLE recipients ADD COLUMN sticky_ms bigint;
  CREATE TABLE number_lines (
    number text PRIMARY KEY,
    line text NOT NULL,
    at bigint NOT NULL
  );
  `,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/** Brings `schema` to the newest version (creating it); refuses a store written by a newer version. */
export async function migratePg(pool: pg.Pool, schemaName: string): Promise<{ from: number; to: number }> {
  const schema = checkSchemaName(schemaName);
  return inTransaction(pool, async (client) => {
    // Instances starting at once wait here for each other; the lock ends with the transaction.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`goip-schema:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`SET LOCAL search_path TO ${schema}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_version');
    const from = rows[0]?.version ?? 0;
    if (rows.length === 0) await client.query('INSERT INTO schema_version (version) VALUES (0)');
    if (from > PG_MIGRATIONS.length) {
      throw new Error(`postgres store: schema ${schema} is at version ${from}, newer than this version knows (${PG_MIGRATIONS.length})`);
    }
    for (let version = from; version < PG_MIGRATIONS.length; version++) await client.query(PG_MIGRATIONS[version]);
    if (from < PG_MIGRATIONS.length) await client.query('UPDATE schema_version SET version = $1', [PG_MIGRATIONS.length]);
    return { from, to: PG_MIGRATIONS.length };
  });
}
