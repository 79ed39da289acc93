/**
 * Send benchmark: throughput of the bulk-send engine as a fraction of the physical limit
 * of the lines it drives. A GoIP line sends one SMS at a time, smsRadioTimeMs each, so N lines can
 * never send more than N / radio time SMS per second; the engine's job is to keep every radio busy.
 *
 * Per row: a GoipServer on loopback, the durable SqliteOutbox in a temp file (WAL + synchronous=FULL,
 * the real settings: its fsyncs are part of the cost), a BulkSender whose timings are the defaults
 * scaled by radio time / 3 s (a real radio takes ~3 s per SMS), and a simulated fleet with seeded
 * loss in both directions. 1,000 distinct recipients go in one batch; the clock runs from enqueue
 * until the last 'result'.
 *
 * The engine runs on this process's main thread; the fleet runs in a child process by default (as a
 * real fleet runs apart from the server), BENCH_SEND_FLEET=inprocess puts it on the same thread.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Recipient } from '../src/outbox/types';
import { sendPortOf, SqliteOutbox } from '../src/outbox';
import { openPool } from '../src/outbox/postgres/pg-pool';
import { LinePresence } from '../src/outbox/postgres/pg-presence';
import { PgQueue } from '../src/outbox/postgres/pg-queue';
import { migratePg } from '../src/outbox/postgres/pg-schema';
import type { NewBatch, SendStore } from '../src/outbox/types';
import type pg from 'pg';
import { GoipServer } from '../src/link';
import { type BulkOptions, BulkSender, DEFAULT_BULK_OPTIONS } from '../src/outbound';
import { lineIds, type SimFleet, startLines } from '../src/sim';

const PASSWORD = 'benchpw';
const FLEET_FLAG = '--goip-send-fleet';
/** The radio time of a real GSM module, which the engine's defaults are made for. */
const REAL_RADIO_MS = 3000;

export interface SendCase {
  lines: number;
  /** Loss probability in each direction. */
  loss: number;
  radioMs: number;
  /** Diagnosis only: engine options over the scaled defaults. */
  bulk?: Partial<BulkOptions>;
  /** Diagnosis only: lose datagrams in one direction only (default both). */
  lossDirection?: 'both' | 'out' | 'in';
  /** Seed of the fleet's faults; default BENCH_SEND_SEED (1000) + lines. */
  seed?: number;
  /** The store: a SQLite file (default), or this PostgreSQL database (its connection string). */
  postgres?: string;
}

interface FleetInput {
  port: number;
  lines: number;
  radioMs: number;
  keepaliveIntervalMs: number;
  sessionExpiryMs: number;
  loss: number;
  lossDirection: 'both' | 'out' | 'in';
  seed: number;
}

/** What the fleet saw, reported once the engine is done. */
interface FleetReport {
  /** Per SMS that went over the air: line and when the radio finished it (ms epoch). */
  sent: Array<[line: string, at: number]>;
  duplicates: number;
  /** Each number that went out more than once: its sends as line/sendId/telId@ms epoch. */
  duplicateSends: Array<{ number: string; sends: string[] }>;
  /** Datagrams the fault injection dropped (both directions, all lines). */
  dropped: number;
  /** Share of wall time the fleet's event loop was busy (the fleet's process). */
  busy: number;
  /** p99 timer lateness of the fleet's event loop, ms (late timers stretch the simulated radio). */
  loopDelayP99Ms: number;
}

export interface SendRow extends SendCase {
  fleet: 'child' | 'inprocess';
  recipients: number;
  /** False when the row hit its deadline before every recipient had a result. */
  complete: boolean;
  results: number;
  elapsedS: number;
  achieved: number;
  limit: number;
  fraction: number;
  sent: number;
  failed: number;
  duplicates: number;
  /** From enqueue until every session of the first round had sent its MSG (fill() is one synchronous pass). */
  openedMs: number;
  /** From enqueue until the first SMS began on the radio of the line that started last. */
  startupMs: number;
  /** From the last SMS leaving a radio until the last result. */
  tailMs: number;
  /** Radio busy time (SMS x radio time) over lines x elapsed. */
  radioBusy: number;
  /** Most SMS one line sent (the floor of the elapsed time is that many radio times). */
  maxPerLine: number;
  /** SEND datagrams the server sent per recipient (1 = no retransmission or re-ask). */
  sendsPerRecipient: number;
  requeued: number;
  lateResults: number;
  /** Claimed numbers without a result when the row ended ... */
  inFlight: number;
  /** ... and the engine's sessions then (none: the numbers wait outside any session for a pushed result). */
  openSessions: number;
  dropped: number;
  engineBusy: number;
  engineDelayP99Ms: number;
  fleetBusy: number;
  fleetDelayP99Ms: number;
  /** When an SMS went out twice (or BENCH_SEND_TRACE=1 and a number moved lines): what the engine sent and heard about it. */
  duplicateStory: string[];
}

/** The engine's defaults scaled from a 3 s radio to `radioMs` (the counts stay as they are). */
export function scaledBulkOptions(radioMs: number): Partial<BulkOptions> {
  const k = radioMs / REAL_RADIO_MS;
  const scaled: Partial<BulkOptions> = {};
  for (const key of ['stepTimeoutMs', 'minRetransmitMs', 'initialRetransmitMs', 'waitRecheckMs', 'acceptedTimeoutMs', 'busyRetryMs', 'busyCooldownMs', 'passwordParkMs'] as const) {
    scaled[key] = Math.max(1, Math.round(DEFAULT_BULK_OPTIONS[key] * k));
  }
  return scaled;
}

// ---- the fleet (child process or this one) ----

async function startFleet(input: FleetInput): Promise<SimFleet> {
  const fleet = await startLines({
    count: input.lines,
    password: PASSWORD,
    server: { host: '127.0.0.1', port: input.port },
    smsRadioTimeMs: input.radioMs,
    keepaliveIntervalMs: input.keepaliveIntervalMs,
    sessionExpiryMs: input.sessionExpiryMs,
    faults:
      input.loss > 0
        ? { loss: input.lossDirection === 'both' ? input.loss : { [input.lossDirection]: input.loss }, seed: input.seed }
        : undefined,
  });
  await fleet.waitRegistered(30_000);
  return fleet;
}

function fleetReport(fleet: SimFleet, busy: number, loopDelayP99Ms: number): FleetReport {
  let dropped = 0;
  for (const line of fleet.lines) {
    const { out, in: inbound } = line.faultCounters;
    dropped += out.dropped + inbound.dropped;
  }
  return {
    sent: fleet.ledger.sent.map((s) => [s.line, s.at]),
    duplicates: fleet.ledger.duplicates().length,
    duplicateSends: fleet.ledger.duplicates().map((d) => ({ number: d.number, sends: d.sends.map((x) => `${x.line}/${x.sendId}/${x.telId}@${x.at}`) })),
    dropped,
    busy,
    loopDelayP99Ms,
  };
}

interface FleetHandle {
  /** Starts measuring the fleet's own load. */
  mark(): void;
  report(): Promise<FleetReport>;
  stop(): Promise<void>;
}

async function inProcessFleet(input: FleetInput): Promise<FleetHandle> {
  const fleet = await startFleet(input);
  let elu = performance.eventLoopUtilization();
  return {
    mark: () => {
      elu = performance.eventLoopUtilization();
    },
    // Same thread as the engine: its load and timer lateness are the engine's figures.
    report: () => Promise.resolve(fleetReport(fleet, performance.eventLoopUtilization(elu).utilization, Number.NaN)),
    stop: () => fleet.stop(),
  };
}

async function childFleet(input: FleetInput): Promise<FleetHandle> {
  const child: ChildProcess = fork(__filename, [FLEET_FLAG], { stdio: 'inherit' });
  const request = <T>(message: object): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`fleet process exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (reply) => {
        child.off('exit', onExit);
        const answer = reply as { error?: string };
        if (answer.error !== undefined) reject(new Error(answer.error));
        else resolve(reply as T);
      });
      child.send(message);
    });
  try {
    await request({ cmd: 'start', input });
  } catch (err) {
    child.kill();
    throw err;
  }
  return {
    mark: () => void child.send({ cmd: 'mark' }),
    report: () => request<FleetReport>({ cmd: 'report' }),
    stop: async () => {
      await request({ cmd: 'stop' }).catch(() => undefined);
      child.kill();
    },
  };
}

/** The fleet's side of childFleet(). */
function serveFleet(): void {
  let fleet: SimFleet | null = null;
  let elu = performance.eventLoopUtilization();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  process.on('message', (raw) => {
    const message = raw as { cmd: string; input?: FleetInput };
    const reply = (answer: object): void => void process.send?.(answer);
    const fail = (err: unknown): void => reply({ error: err instanceof Error ? err.message : String(err) });
    switch (message.cmd) {
      case 'start':
        startFleet(message.input as FleetInput).then((started) => {
          fleet = started;
          reply({ ok: true });
        }, fail);
        return;
      case 'mark':
        elu = performance.eventLoopUtilization();
        delay.reset();
        delay.enable();
        return;
      case 'report':
        delay.disable();
        if (fleet === null) return fail(new Error('no fleet'));
        reply(fleetReport(fleet, performance.eventLoopUtilization(elu).utilization, delay.percentile(99) / 1e6));
        return;
      case 'stop':
        void (fleet?.stop() ?? Promise.resolve()).then(() => {
          reply({ ok: true });
          process.exit(0);
        });
        return;
    }
  });
}

// ---- one row ----

/** Engine-side datagrams of the run: [ms since enqueue, line, '>' sent | '<' heard, text]. */
type TraceEntry = [number, string, '>' | '<', string];

/** Trace lines printed per story at most. */
const TRACE_LINES = 80;

/** Datagrams of the given (line, sendId) sessions and of `number`, for the report. */
function sessionTrace(trace: readonly TraceEntry[], sessions: ReadonlyArray<{ line: string; sendId: string }>, number: string): string[] {
  return trace
    .filter(
      ([, line, , text]) =>
        sessions.some((s) => s.line === line && (text.split(' ')[1] === s.sendId || text.startsWith('(line'))) || text.includes(number),
    )
    .slice(0, TRACE_LINES)
    .map(([ms, line, dir, text]) => `  ${ms.toFixed(1)} ${line} ${dir} ${text}`);
}


/** The first recipient a line gave up on (requeued to another line), with the datagrams of its first line's session. */
function requeueStory(results: readonly Recipient[], trace: readonly TraceEntry[]): string[] {
  const moved = results.find((r) => r.excludedLines.length > 0);
  if (moved === undefined) return [];
  // Its first line's session: the SEND of its number to the excluded line.
  const firstLine = moved.excludedLines[0];
  const send = trace.find(([, line, dir, text]) => line === firstLine && dir === '>' && text.startsWith('SEND ') && text.endsWith(` ${moved.number}`));
  const sendId = send?.[3].split(' ')[1] ?? '?';
  return [
    `REQUEUED ${results.filter((r) => r.excludedLines.length > 0).length} recipient(s); first ${moved.number}: ${moved.state} on ${moved.line}/${moved.sendId}/${moved.telId}, attempts ${moved.attempts}, excluded ${moved.excludedLines.join(',')}`,
    ...sessionTrace(trace, [{ line: firstLine, sendId }], moved.number),
  ];
}

/** The first duplicated number: its sends, its outbox record and every datagram of the sessions involved. */
function duplicateStory(duplicates: FleetReport['duplicateSends'], results: readonly Recipient[], trace: readonly TraceEntry[], t0: number): string[] {
  const [first] = duplicates;
  const recipient = results.find((r) => r.number === first.number);
  const sessions = first.sends.map((send) => {
    const [line, sendId] = send.split('/');
    return { line, sendId };
  });
  const wallT0 = Date.now() - (performance.now() - t0);
  return [
    `DUPLICATE ${duplicates.length} number(s); first ${first.number} went out as ${first.sends.map((x) => x.replace(/@(\d+)$/, (_, at: string) => `@${(Number(at) - wallT0).toFixed(0)}ms`)).join(', ')}`,
    `  outbox: ${recipient === undefined ? 'no result' : `${recipient.state} on ${recipient.line}/${recipient.sendId}/${recipient.telId}, attempts ${recipient.attempts}, excluded ${recipient.excludedLines.join(',') || '-'}, error ${recipient.error ?? '-'}`}`,
    ...sessionTrace(trace, sessions, first.number),
  ];
}

/** A row gives up after this long and is reported incomplete. */
const ROW_DEADLINE_MS = 40_000;

export async function runSendCase(c: SendCase, recipients = 1000, fleetMode: 'child' | 'inprocess' = 'child'): Promise<SendRow> {
  const k = c.radioMs / REAL_RADIO_MS;
  const ids = lineIds(c.lines);
  const server = new GoipServer({
    bind: '127.0.0.1',
    port: 0,
    devices: ids.map((id) => ({ id, password: PASSWORD })),
    // The vendor's 92 s offline limit against 30 s keepalives, scaled like the rest.
    offlineAfterMs: Math.round(92_000 * k),
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-bench-send-'));
  let outbox: SqliteOutbox | null = null;
  let pool: pg.Pool | null = null;
  let sender: BulkSender | null = null;
  let fleet: FleetHandle | null = null;
  try {
    const { port } = await server.start();
    let store: SendStore;
    let enqueue: (batch: NewBatch) => Promise<unknown>;
    if (c.postgres === undefined) {
      const sqlite = SqliteOutbox.open(path.join(dir, 'outbox.db'));
      outbox = sqlite;
      store = sendPortOf(sqlite);
      enqueue = async (batch) => sqlite.enqueue(batch);
    } else {
      pool = openPool({ connectionString: c.postgres, maxConnections: 8 });
      await migratePg(pool, 'goip');
      await new LinePresence(pool, 'bench', 600_000).renew(ids);
      const queue = new PgQueue(pool, { instance: 'bench', leaseMs: 600_000 });
      store = queue;
      enqueue = (batch) => queue.enqueue(batch);
    }
    const input: FleetInput = {
      port,
      lines: c.lines,
      radioMs: c.radioMs,
      // The device's 30 s keepalive and 90 s bulk-session expiry, scaled.
      keepaliveIntervalMs: Math.round(30_000 * k),
      sessionExpiryMs: Math.round(90_000 * k),
      loss: c.loss,
      lossDirection: c.lossDirection ?? 'both',
      seed: c.seed ?? defaultSeed(c.lines),
    };
    fleet = fleetMode === 'child' ? await childFleet(input) : await inProcessFleet(input);
    // Every line registered (the fleet waited for its keepalive acks): the server has them online.
    sender = new BulkSender(server, store, { ...scaledBulkOptions(c.radioMs), ...c.bulk });
    const warnings: Error[] = [];
    sender.on('warning', (err) => warnings.push(err));
    sender.start();

    let t0 = 0;
    let sends = 0;
    const trace: TraceEntry[] = [];
    const lineByPort = new Map(server.lines().map((info) => [info.port, info.id]));
    server.on('reply', (line, reply) => {
      if (reply.kind === 'reply') trace.push([performance.now() - t0, line, '<', `${reply.verb} ${reply.sendId} ${reply.rest}`.trim()]);
    });
    server.on('event', (event) => {
      if (event.event === 'online' || event.event === 'offline') trace.push([performance.now() - t0, event.line, '<', `(line ${event.event})`]);
    });
    const opened = new Set<string>();
    const firstRound = c.lines * sender.options.sessionsPerLine;
    let openedMs = Number.NaN;
    server.on('datagramOut', (text, _address, linePort) => {
      if (!text.startsWith('reg:')) trace.push([performance.now() - t0, lineByPort.get(linePort) ?? String(linePort), '>', text.trim()]);
      if (text.startsWith('SEND ')) sends++;
      else if (text.startsWith('MSG ') && opened.size < firstRound) {
        opened.add(`${linePort} ${text.slice(4, text.indexOf(' ', 4))}`);
        if (opened.size === firstRound) openedMs = performance.now() - t0;
      }
    });
    const batch = {
      batchId: 'bench',
      text: 'bench message',
      line: null,
      nodeId: 'bench',
      meta: {},
      segments: 1,
      encoding: 'GSM-7' as const,
      recipients: Array.from({ length: recipients }, (_, i) => ({ messageId: `m${i}`, number: `+86138${String(i).padStart(8, '0')}` })),
    };
    const results: Recipient[] = [];
    let lastResultAt = 0;
    let lastResultPerf = 0;
    const running = sender;
    const complete = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ROW_DEADLINE_MS);
      running.on('result', (r) => {
        results.push(r);
        lastResultAt = Date.now();
        lastResultPerf = performance.now();
        if (results.length < recipients) return;
        clearTimeout(timer);
        resolve(true);
      });
    });
    const delay = monitorEventLoopDelay({ resolution: 1 });
    fleet.mark();
    delay.enable();
    const eluBefore = performance.eventLoopUtilization();
    const startedAt = Date.now();
    t0 = performance.now();
    await enqueue(batch);
    sender.kick();
    const finished = await complete;
    const elapsedMs = finished ? lastResultPerf - t0 : performance.now() - t0;
    const engineBusy = performance.eventLoopUtilization(eluBefore).utilization;
    delay.disable();
    const progress = sender.progress();
    const report = await fleet.report();
    if (warnings.length > 0) console.error(`send bench: ${warnings.length} engine warnings, first: ${warnings[0].message}`);

    const airtimes = new Map<string, number[]>();
    let lastAt = 0;
    for (const [line, at] of report.sent) {
      const times = airtimes.get(line);
      if (times === undefined) airtimes.set(line, [at]);
      else times.push(at);
      lastAt = Math.max(lastAt, at);
    }
    const limit = (c.lines * 1000) / c.radioMs;
    const achieved = results.length / (elapsedMs / 1000);
    return {
      ...c,
      fleet: fleetMode,
      recipients,
      complete: finished,
      results: results.length,
      elapsedS: elapsedMs / 1000,
      achieved,
      limit,
      fraction: achieved / limit,
      sent: results.filter((r) => r.state === 'sent').length,
      failed: results.filter((r) => r.state === 'failed').length,
      duplicates: report.duplicates,
      openedMs,
      // The ledger stamps an SMS when it leaves the radio; it began one radio time earlier.
      startupMs: Math.max(...[...airtimes.values()].map((times) => times[0] - c.radioMs)) - startedAt,
      tailMs: lastResultAt - lastAt,
      radioBusy: (report.sent.length * c.radioMs) / (c.lines * elapsedMs),
      maxPerLine: Math.max(...[...airtimes.values()].map((times) => times.length)),
      sendsPerRecipient: sends / recipients,
      requeued: progress.requeued,
      lateResults: progress.lateResults,
      inFlight: progress.inFlight,
      openSessions: progress.sessions,
      dropped: report.dropped,
      engineBusy,
      engineDelayP99Ms: delay.percentile(99) / 1e6,
      fleetBusy: report.busy,
      fleetDelayP99Ms: fleetMode === 'child' ? report.loopDelayP99Ms : delay.percentile(99) / 1e6,
      duplicateStory:
        report.duplicateSends.length > 0
          ? duplicateStory(report.duplicateSends, results, trace, t0)
          : process.env.BENCH_SEND_TRACE === '1'
            ? requeueStory(results, trace)
            : [],
    };
  } finally {
    await sender?.stop();
    await fleet?.stop();
    await server.stop();
    outbox?.close();
    await pool?.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the whole benchmark ----

/**
 * The radio time of a row: 2.5 ms per line (at least 40 ms, so the simulator's ~1 ms timer
 * lateness stays small against it). 8 lines: 40 ms, limit 200 SMS/s, 5 s at the limit; 32 and
 * 128 lines: 80 and 320 ms, limit 400 SMS/s, 2.5 s at the limit. Scaled so, the engine carries
 * 200-400 SMS/s, a load it takes on one core (see the fixed 20 ms table for its ceiling).
 */
export function radioMsFor(lines: number): number {
  return Math.max(40, lines * 2.5);
}

export const LINE_COUNTS = [8, 32, 128] as const;
/** The 10% loss rows again with these seeds: which datagrams are lost decides much at 8 SMS a line. */
export const MORE_SEEDS = [7777, 15554, 23331, 31108, 38885, 46662] as const;

function defaultSeed(lines: number): number {
  return Number(process.env.BENCH_SEND_SEED ?? 1000) + lines;
}
export const LOSSES = [0, 0.1] as const;
/** The engine's ceiling: every line count again at a fixed 20 ms radio, no loss. */
export const CEILING_RADIO_MS = 20;

export interface SendReport {
  rows: SendRow[];
  ceiling: SendRow[];
  /** Per line count, the 10% loss row with each of MORE_SEEDS. */
  seeds: SendRow[];
}

type FleetMode = 'child' | 'inprocess';

export async function runSend(options: { recipients?: number; fleet?: FleetMode } = {}): Promise<SendReport> {
  const recipients = options.recipients ?? 1000;
  const fleet = options.fleet ?? (process.env.BENCH_SEND_FLEET === 'inprocess' ? 'inprocess' : 'child');
  const rows: SendRow[] = [];
  for (const lines of LINE_COUNTS) {
    for (const loss of LOSSES) rows.push(await runSendCase({ lines, loss, radioMs: radioMsFor(lines) }, recipients, fleet));
  }
  const ceiling: SendRow[] = [];
  for (const lines of LINE_COUNTS) ceiling.push(await runSendCase({ lines, loss: 0, radioMs: CEILING_RADIO_MS }, recipients, fleet));
  const seeds: SendRow[] = [];
  for (const lines of LINE_COUNTS) {
    for (const seed of MORE_SEEDS) seeds.push(await runSendCase({ lines, loss: 0.1, radioMs: radioMsFor(lines), seed }, recipients, fleet));
  }
  return { rows, ceiling, seeds };
}

/** min / median / max of the 10% rows over the seeds, per line count. */
function seedTable(rows: readonly SendRow[]): string[] {
  const lines = [...new Set(rows.map((r) => r.lines))];
  return [
    '| lines | runs | fraction min | median | max | runs >= 0.85 | sent | failed | duplicates |',
    '|---|---|---|---|---|---|---|---|---|',
    ...lines.map((n) => {
      const own = rows.filter((r) => r.lines === n);
      const fractions = own.map((r) => (r.complete ? r.fraction : 0)).sort((a, b) => a - b);
      const sum = (pick: (r: SendRow) => number): number => own.reduce((acc, r) => acc + pick(r), 0);
      const median = fractions[Math.floor(fractions.length / 2)];
      return `| ${n} | ${own.length} | ${fmt(fractions[0], 3)} | ${fmt(median, 3)} | ${fmt(fractions[fractions.length - 1], 3)} | ${fractions.filter((f) => f >= 0.85).length} | ${sum((r) => r.sent)} | ${sum((r) => r.failed)} | ${sum((r) => r.duplicates)} |`;
    }),
  ];
}

const fmt = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const pct = (n: number): string => `${fmt(n * 100, 0)}%`;

function resultTable(rows: readonly SendRow[]): string[] {
  return [
    '| lines | loss | radio ms | elapsed s | achieved SMS/s | limit SMS/s | fraction | sent | failed | duplicates |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      // An unfinished row: the figures are bounds, the missing results are named.
      const open = r.complete ? '' : '>';
      const under = r.complete ? '' : '<';
      const failed = r.complete ? `${r.failed}` : `${r.failed} (+${r.recipients - r.results} no result)`;
      return `| ${r.lines} | ${pct(r.loss)} | ${r.radioMs} | ${open}${fmt(r.elapsedS, 2)} | ${under}${fmt(r.achieved, 1)} | ${fmt(r.limit, 1)} | ${under}${fmt(r.fraction, 3)} | ${r.sent} | ${failed} | ${r.duplicates} |`;
    }),
  ];
}

function timeTable(rows: readonly SendRow[]): string[] {
  return [
    '| lines | loss | radio ms | sessions opened ms | start-up ms | tail ms | most SMS on a line | radio busy | SEND per rcpt | dropped datagrams | engine busy | engine p99 lag ms | fleet busy | fleet p99 lag ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.lines} | ${pct(r.loss)} | ${r.radioMs} | ${fmt(r.openedMs, 0)} | ${fmt(r.startupMs, 0)} | ${fmt(r.tailMs, 0)} | ${r.maxPerLine} | ${fmt(r.radioBusy, 3)} | ${fmt(r.sendsPerRecipient, 2)} | ${r.dropped} | ${pct(r.engineBusy)} | ${fmt(r.engineDelayP99Ms, 1)} | ${r.fleet === 'child' ? pct(r.fleetBusy) : 'same thread'} | ${fmt(r.fleetDelayP99Ms, 1)} |`,
    ),
  ];
}

function rowName(r: SendRow): string {
  return `${r.lines} lines, ${pct(r.loss)} loss, ${r.radioMs} ms${r.seed === undefined ? '' : `, seed ${r.seed}`}`;
}

export function formatSend(report: SendReport): string {
  const all = [...report.rows, ...report.ceiling];
  const everyRow = [...all, ...report.seeds];
  const recipients = all[0]?.recipients ?? 0;
  const fleet = all[0]?.fleet === 'inprocess' ? 'fleet on the engine thread' : 'fleet in a child process';
  const notes = everyRow
    .filter((r) => !r.complete || r.requeued > 0 || r.lateResults > 0)
    .map(
      (r) =>
        `${rowName(r)}: ${r.complete ? '' : `no result for ${r.recipients - r.results} within ${ROW_DEADLINE_MS / 1000} s (${r.inFlight} claimed and in flight, ${r.openSessions} engine sessions open); `}requeued ${r.requeued}, late results ${r.lateResults}`,
    );
  return [
    `Send: BulkSender + SqliteOutbox (WAL, synchronous=FULL) + GoipServer on one thread, ${fleet}; ${recipients} recipients in one batch; engine timings = defaults x radio time / 3 s; fraction = achieved / (lines / radio time)`,
    '',
    ...resultTable(report.rows),
    '',
    `Engine ceiling: the same at a fixed ${CEILING_RADIO_MS} ms radio, no loss (limits far above what a real fleet needs: 128 lines x 1 SMS / 3 s = 43 SMS/s)`,
    '',
    ...resultTable(report.ceiling),
    '',
    `The 10% loss rows with ${MORE_SEEDS.length} other fault seeds (${MORE_SEEDS.join(', ')}): a row ends with its unluckiest line, so which datagrams are lost matters`,
    '',
    ...seedTable(report.seeds),
    '',
    'Where the time went. sessions opened: enqueue until every first-round session had sent its MSG; start-up: enqueue until the first SMS began on the radio of the line that started last; tail: last SMS off the air until the last result; radio busy: SMS x radio time / (lines x elapsed); SEND per rcpt: SEND datagrams per recipient (1 = no retransmission or re-ask)',
    '',
    ...timeTable(all),
    ...(notes.length > 0 ? ['', ...notes] : []),
    ...everyRow.flatMap((r) => (r.duplicateStory.length > 0 ? ['', `${rowName(r)}:`, ...r.duplicateStory] : [])),
  ].join('\n');
}

/** `npm run bench`'s part: runs every row and returns the markdown tables. */
export async function run(): Promise<string> {
  return formatSend(await runSend());
}

if (process.argv.includes(FLEET_FLAG)) serveFleet();
