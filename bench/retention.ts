/**
 * Retention benchmark: continuous sending into the durable SqliteOutbox (a temp file,
 * WAL + synchronous=FULL) with a short retention, in simulated time. Every SMS takes the engine's
 * path through the store (enqueue, claim, markSent, its result taken by the flow, a delivery
 * report correlated by sms_no and marked), one group commit per batch; the RetentionSchedule purges as it would on its timer.
 * Per checkpoint: rows held, store size on disk (db + WAL), and the cost of the two delivery
 * lookups (DELIVER by sms_no, +CDS by number and send time) on the newest sends. Without retention
 * the store grows with every SMS; with it, size stays flat, and the lookups stay flat either way
 * (they are index searches).
 *
 * Alone: `node dist-test/bench/retention.js` (BENCH_RETENTION_SMS sets the SMS count, default 400,000: past the hour the hourly limit keeps its line_sends).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { purgeIntervalMs, RetentionSchedule } from '../src/gateway/queue-retention';
import { SqliteOutbox } from '../src/outbox';
import { asynchronousOf } from '../src/outbox/store-ports';

const LINES = 128;
/** 128 lines at a ~3 s radio. */
const SMS_PER_SECOND = 43;
const BATCH = 100;
const RETENTION_MS = 10 * 60_000;
/** The engine's deliveryWindowMs, set to the retention here (its default is 6 h). */
const DELIVERY_WINDOW_MS = RETENTION_MS;
const CHECKPOINTS = 10;
const LOOKUPS = 2000;

export interface RetentionRow {
  sent: number;
  rows: number;
  storeBytes: number;
  deliverUs: number;
  cdsUs: number;
}

function storeBytes(file: string): number {
  return [file, `${file}-wal`].reduce((sum, f) => sum + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
}

function numberOf(i: number): string {
  return `+86139${String(i).padStart(8, '0')}`;
}

/** Mean µs per call of `lookup(i)` over LOOKUPS calls. */
function timeLookups(lookup: (i: number) => unknown): number {
  const start = performance.now();
  for (let i = 0; i < LOOKUPS; i++) lookup(i);
  return ((performance.now() - start) * 1000) / LOOKUPS;
}

export function runRetention(totalSms: number, retention: boolean): RetentionRow[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-retention-'));
  const file = path.join(dir, 'outbox.sqlite');
  let clock = 1_700_000_000_000;
  const outbox = SqliteOutbox.open(file, { now: () => clock });
  const schedule = new RetentionSchedule(asynchronousOf(outbox, ['purge']), RETENTION_MS, DELIVERY_WINDOW_MS, (err) => { throw err; }, () => clock);
  const purgeEveryMs = purgeIntervalMs(RETENTION_MS);
  let lastPurge = clock;
  const rows: RetentionRow[] = [];
  const sentAt: number[] = [];
  try {
    for (let sent = 0, batchNo = 0; sent < totalSms; batchNo++) {
      outbox.transaction(() => {
        const recipients = Array.from({ length: BATCH }, (_, i) => ({ messageId: `m${sent + i}`, number: numberOf(sent + i) }));
        outbox.enqueue({ batchId: `b${batchNo}`, text: 'retention bench', line: null, nodeId: 'send', meta: {}, segments: 1, encoding: 'GSM-7', recipients });
        for (let i = 0; i < BATCH; i++, sent++) {
          const line = `goip${sent % LINES}`;
          clock += 1000 / SMS_PER_SECOND;
          const [claimed] = outbox.claim(line, batchNo + 1, i + 1, 1);
          const smsNo = Math.floor(sent / LINES) % 256;
          outbox.markSent(claimed.messageId, smsNo, '2023-11-14');
          outbox.results.taken([claimed.messageId]);
          sentAt[sent % LOOKUPS] = clock;
          const report = outbox.correlateDelivery(line, smsNo, DELIVERY_WINDOW_MS, clock);
          if (report !== null) outbox.markDelivery(report.messageId, 0, clock);
        }
      });
      if (retention && clock - lastPurge >= purgeEveryMs) {
        schedule.purgeNow();
        lastPurge = clock;
      }
      if (sent % (totalSms / CHECKPOINTS) === 0) {
        const newest = sent - 1;
        rows.push({
          sent,
          rows: outbox.queue.status()?.sent ?? 0,
          storeBytes: storeBytes(file),
          deliverUs: timeLookups((i) => outbox.correlateDelivery(`goip${(newest - i) % LINES}`, Math.floor((newest - i) / LINES) % 256, DELIVERY_WINDOW_MS, clock)),
          cdsUs: timeLookups((i) => outbox.findSentTo(`goip${(newest - i) % LINES}`, numberOf(newest - i), sentAt[(newest - i) % LOOKUPS], 60_000)),
        });
      }
    }
  } finally {
    outbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatRetention(title: string, rows: readonly RetentionRow[]): string {
  const lines = [title, '| SMS sent | rows held | store (MB) | DELIVER lookup (us) | +CDS lookup (us) |', '|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.sent.toLocaleString('en-US')} | ${r.rows.toLocaleString('en-US')} | ${(r.storeBytes / 1e6).toFixed(1)} | ${r.deliverUs.toFixed(1)} | ${r.cdsUs.toFixed(1)} |`);
  }
  return lines.join('\n');
}

export function run(): string {
  const total = Number(process.env.BENCH_RETENTION_SMS ?? 400_000);
  const minutes = RETENTION_MS / 60_000;
  return [
    formatRetention(`Retention ${minutes} min, ${SMS_PER_SECOND} SMS/s simulated (${LINES} lines), purge every ${purgeIntervalMs(RETENTION_MS) / 1000} s`, runRetention(total, true)),
    '',
    formatRetention('No retention (every row kept)', runRetention(total, false)),
  ].join('\n');
}

if (require.main === module) console.log(run());
