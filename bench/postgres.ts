/**
 * The shared store (PostgreSQL, a throwaway cluster with fsync on, on loopback) beside SQLite:
 * - bulk send at real timing (16 lines, 3 s radio) through the engine on each store, 0% and 10% loss;
 * - claim time as the table grows from 10,000 to 1,000,000 rows: one claim (a session's first
 *   number, FOR UPDATE SKIP LOCKED, for a line of this instance) and the mark of its result. Two
 *   shapes per size: a queue of that many waiting numbers (in batches of 1,000), and a history of
 *   that many sent ones with 1,000 waiting. Every claim is one round trip: the times stay flat.
 *
 * Alone: `node dist-test/bench/postgres.js` (needs PostgreSQL: scripts/install-test-deps.sh).
 * BENCH_PG_SIZES (comma-separated, default 10000,100000,1000000), BENCH_PG_CLAIMS (default 500).
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { openPool } from '../src/outbox/postgres/pg-pool';
import { LinePresence } from '../src/outbox/postgres/pg-presence';
import { PgQueue } from '../src/outbox/postgres/pg-queue';
import { migratePg } from '../src/outbox/postgres/pg-schema';
import { PgCluster, postgresMissing } from '../test/helpers/postgres';
import { runSendCase, type SendRow } from './send';

const LINES = ['l1', 'l2', 'l3', 'l4'];
const BATCH_SIZE = 1000;
const DAY = '2026-12-07';

export interface ClaimRow {
  rows: number;
  shape: 'queue' | 'history';
  claimP50Ms: number;
  claimP99Ms: number;
  markP50Ms: number;
  markP99Ms: number;
}

const sizes = (): number[] => (process.env.BENCH_PG_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const claimsPerRow = (): number => Number(process.env.BENCH_PG_CLAIMS ?? 500);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** `total` recipients in batches of BATCH_SIZE, the first `sent` of them sent already (rows made by the server). */
async function populate(pool: pg.Pool, total: number, sent: number): Promise<void> {
  const now = Date.now();
  await pool.query(
    `INSERT INTO batches (batch_id, text, line, node_id, meta, segments, encoding, recipient_count, created_at)
     SELECT 'b' || g, 'bench', NULL, 'n', '{}', 1, 'GSM-7', $2, $3 FROM generate_series(0, ($1 - 1) / $2) g`,
    [total, BATCH_SIZE, now],
  );
  await pool.query(
    `INSERT INTO recipients (message_id, batch_seq, idx, number, state, line, sms_no, sent_at, updated_at)
     SELECT 'm' || g, b.seq, g % $2, '+4930' || lpad(g::text, 8, '0'),
            CASE WHEN g < $3 THEN 'sent' ELSE 'queued' END, CASE WHEN g < $3 THEN 'l1' END,
            CASE WHEN g < $3 THEN g % 256 END, CASE WHEN g < $3 THEN $4::bigint END, $4
     FROM generate_series(0, $1 - 1) g JOIN batches b ON b.batch_id = 'b' || (g / $2)`,
    [total, BATCH_SIZE, sent, now],
  );
  await pool.query('ANALYZE');
}

async function measure(cluster: PgCluster, rows: number, shape: ClaimRow['shape'], index: number): Promise<ClaimRow> {
  const pool = openPool({ connectionString: cluster.createDatabase(`claims_${index}`) });
  try {
    await migratePg(pool, 'goip');
    await populate(pool, shape === 'queue' ? rows : rows + BATCH_SIZE, shape === 'queue' ? 0 : rows);
    await new LinePresence(pool, 'bench', 60_000).renew(LINES);
    const queue = new PgQueue(pool, { instance: 'bench', leaseMs: 60_000 });
    const claims: number[] = [];
    const marks: number[] = [];
    for (let i = 0; i < claimsPerRow(); i++) {
      const line = LINES[i % LINES.length];
      const started = performance.now();
      const [recipient] = await queue.claim(line, i + 1, 1, 1);
      claims.push(performance.now() - started);
      if (recipient === undefined) throw new Error(`claim ${i}: nothing claimed`);
      const marked = performance.now();
      await queue.markSent(recipient.messageId, i % 256, DAY);
      marks.push(performance.now() - marked);
    }
    claims.sort((a, b) => a - b);
    marks.sort((a, b) => a - b);
    return { rows, shape, claimP50Ms: percentile(claims, 0.5), claimP99Ms: percentile(claims, 0.99), markP50Ms: percentile(marks, 0.5), markP99Ms: percentile(marks, 0.99) };
  } finally {
    await pool.end();
  }
}

/** 16 lines at a real 3 s radio, 8 numbers each (24 s at the limit). */
const REAL_LINES = 16;
const REAL_RADIO_MS = 3000;
const REAL_RECIPIENTS = 128;

export async function runPostgres(): Promise<string> {
  const missing = postgresMissing();
  if (missing !== null) return `PostgreSQL benchmarks skipped: ${missing}`;
  const cluster = await PgCluster.start({ durable: true });
  const rows: ClaimRow[] = [];
  const sends: Array<{ store: string; row: SendRow }> = [];
  try {
    let index = 0;
    for (const loss of [0, 0.1]) {
      const c = { lines: REAL_LINES, loss, radioMs: REAL_RADIO_MS };
      sends.push({ store: 'SQLite', row: await runSendCase(c, REAL_RECIPIENTS) });
      sends.push({ store: 'PostgreSQL', row: await runSendCase({ ...c, postgres: cluster.createDatabase(`send_${++index}`) }, REAL_RECIPIENTS) });
    }
    for (const size of sizes()) for (const shape of ['queue', 'history'] as const) rows.push(await measure(cluster, size, shape, ++index));
  } finally {
    cluster.stop();
  }
  const lines = [
    `Bulk send at real timing on each store: ${REAL_LINES} lines, ${REAL_RADIO_MS} ms radio, ${REAL_RECIPIENTS} numbers in one batch, the engine's default timings, fleet in a child process`,
    '',
    '| store | loss | elapsed s | achieved SMS/s | limit SMS/s | fraction | sent | failed | duplicates | engine busy |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...sends.map(({ store, row: r }) =>
      `| ${store} | ${(r.loss * 100).toFixed(0)}% | ${r.elapsedS.toFixed(2)} | ${r.achieved.toFixed(2)} | ${r.limit.toFixed(2)} | ${r.complete ? '' : '<'}${r.fraction.toFixed(3)} | ${r.sent} | ${r.failed} | ${r.duplicates} | ${(r.engineBusy * 100).toFixed(1)}% |`,
    ),
    '',
    `Shared store (PostgreSQL, fsync on, loopback): one claim (a session's first number, FOR UPDATE SKIP LOCKED) and its result's mark, ${claimsPerRow()} of each per row, over 4 lines`,
    '',
    '| rows in recipients | shape | claim p50 ms | claim p99 ms | mark sent p50 ms | mark sent p99 ms |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.rows.toLocaleString('en-US')} | ${r.shape === 'queue' ? 'all waiting' : 'sent history + 1,000 waiting'} | ${r.claimP50Ms.toFixed(2)} | ${r.claimP99Ms.toFixed(2)} | ${r.markP50Ms.toFixed(2)} | ${r.markP99Ms.toFixed(2)} |`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  runPostgres().then(
    (table) => console.log(table),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
