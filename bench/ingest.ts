/**
 * Ingest benchmark: how many RECEIVE + keepalive datagrams per second a receiver parses, acks and
 * hands on from 1,000 lines on loopback, and the ack latency a line sees. The receivers (systems
 * under test) are in bench/ingest-targets.ts, the soak in bench/ingest-soak.ts; this file drives
 * the load generator and formats its figures.
 *
 * The generator (bench/ingest-generator.ts: 1,000 lines, each its own UDP socket) runs in a child
 * process, as a real gateway fleet runs apart from the server, and shares the machine's cores with
 * the receiver.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { GeneratorInput, Phase, PhaseResult } from './ingest-generator';

export type { Phase, PhaseResult } from './ingest-generator';

export const LINES = 1000;
export const RECEIVES_PER_KEEPALIVE = 3;
/** Lines and pace of the device-timing phase: a GoIP line sends about one RECEIVE per 3 s at most. */
export const DEVICE_LINES = 100;
export const DEVICE_INTERVAL_S = 3;

export const PHASE = {
  warmUp: 'warm-up 5,000/s',
  offered2k: 'offered 2,000/s (open loop)',
  offered5k: 'offered 5,000/s (open loop)',
  offered20k: 'offered 20,000/s (open loop)',
  saturated: 'saturated (closed loop, 4 in flight per line)',
  device: `device timing (${DEVICE_LINES} lines, 1 RECEIVE per line every ${DEVICE_INTERVAL_S} s)`,
} as const;

export interface IngestSettings {
  /** Each open- and closed-loop phase, BENCH_SECONDS (default 5). */
  seconds: number;
  /** The device-timing phase, BENCH_DEVICE_SECONDS (default 15: 5 RECEIVEs a line, 500 in all). */
  deviceSeconds: number;
}

export function envNumber(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${value}: not a number >= 0`);
  return n;
}

export function ingestSettings(): IngestSettings {
  return { seconds: envNumber('BENCH_SECONDS', 5), deviceSeconds: envNumber('BENCH_DEVICE_SECONDS', 15) };
}

/** A target runs these in the order warm-up, offered, device timing, saturated: the closed loop leaves a backlog that would land in the next phase. */
export const phases = {
  warmUp: (): Phase => ({ name: PHASE.warmUp, rate: 5_000, window: 0, durationMs: 1000 }),
  offered2k: (seconds: number): Phase => ({ name: PHASE.offered2k, rate: 2_000, window: 0, durationMs: seconds * 1000 }),
  offered5k: (seconds: number): Phase => ({ name: PHASE.offered5k, rate: 5_000, window: 0, durationMs: seconds * 1000 }),
  offered20k: (seconds: number): Phase => ({ name: PHASE.offered20k, rate: 20_000, window: 0, durationMs: seconds * 1000 }),
  saturated: (seconds: number): Phase => ({ name: PHASE.saturated, rate: 0, window: 4, durationMs: seconds * 1000 }),
  device: (seconds: number): Phase => ({
    name: PHASE.device,
    rate: DEVICE_LINES / DEVICE_INTERVAL_S,
    window: 0,
    durationMs: seconds * 1000,
    lines: DEVICE_LINES,
    receivesPerKeepalive: 0,
  }),
};

/** The generator's entry point beside this file (dist-test/bench/ingest-generator.js). */
const GENERATOR = path.join(__dirname, 'ingest-generator.js');

/** Drives `lines` generator lines at the receiver listening on 127.0.0.1:`port` through `phaseList` (options: see GeneratorInput). */
export async function drive(port: number, lines: number, phaseList: Phase[], options: { serialBase?: number; register?: boolean } = {}): Promise<PhaseResult[]> {
  if (!fs.existsSync(GENERATOR)) throw new Error(`${GENERATOR} is missing: run npm run build:test`);
  const child = fork(GENERATOR, [], { stdio: 'inherit' });
  child.send({ port, lines, phases: phaseList, ...options } satisfies GeneratorInput);
  try {
    return await new Promise<PhaseResult[]>((resolve, reject) => {
      child.once('message', (message) => resolve(message as PhaseResult[]));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    });
  } finally {
    child.kill();
  }
}

/** One system under test and what the generator measured against it. */
export interface TargetReport {
  /** Short name for the summary table. */
  name: string;
  /** The title above its table: what runs, where. */
  title: string;
  results: PhaseResult[];
  /** Lines printed under its table (events handed on, CPU). */
  notes: string[];
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number, digits = 2): string => (Number.isNaN(n) ? '-' : n.toFixed(digits));

export function formatPhases(title: string, results: PhaseResult[]): string {
  return [
    title,
    '',
    '| phase | sent | acked | unacked | acked/s | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) => `| ${r.name} | ${r.sent} | ${r.acked} | ${r.unacked} | ${count(r.perSecond)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.maxMs, 1)} |`,
    ),
  ].join('\n');
}

export function formatTarget(report: TargetReport): string {
  return [formatPhases(report.title, report.results), '', ...report.notes].join('\n');
}

const row = (report: TargetReport, name: string): PhaseResult | undefined => report.results.find((r) => r.name === name);

/** One line per target: capacity and the latencies at the shared offered rates, then Node-RED's capacity against the peer's. */
export function formatSummary(reports: TargetReport[], nodeRed: string, peer: string, nodeRedPg?: string): string {
  const latency = (r: PhaseResult | undefined): string => (r === undefined ? '-' : `${ms(r.p50Ms)} / ${ms(r.p99Ms)}`);
  const lines = [
    `Receive path summary (same generator, ${LINES} lines on loopback; unacked = no ack within 1 s in the closed loop, or by 0.3 s after an open-loop phase)`,
    '',
    '| target | saturated acked/s | 5,000/s p50 / p99 ms | 5,000/s unacked | device timing p50 / p99 ms |',
    '|---|---|---|---|---|',
    ...reports.map((report) => {
      const saturated = row(report, PHASE.saturated);
      const offered = row(report, PHASE.offered5k);
      return `| ${report.name} | ${saturated === undefined ? '-' : count(saturated.perSecond)} | ${latency(offered)} | ${offered?.unacked ?? '-'} | ${latency(row(report, PHASE.device))} |`;
    }),
  ];
  const red = reports.find((r) => r.name === nodeRed);
  const other = reports.find((r) => r.name === peer);
  const redRate = red === undefined ? undefined : row(red, PHASE.saturated)?.perSecond;
  const peerRate = other === undefined ? undefined : row(other, PHASE.saturated)?.perSecond;
  if (redRate !== undefined && peerRate !== undefined && peerRate > 0) {
    lines.push('', `Node-RED closed-loop capacity: ${count(redRate)} acks/s = ${(redRate / peerRate).toFixed(2)} x the peer's (${peer}: ${count(peerRate)} acks/s)`);
  }
  const pg = reports.find((r) => r.name === nodeRedPg);
  const pgRate = pg === undefined ? undefined : row(pg, PHASE.saturated)?.perSecond;
  if (pg !== undefined && pgRate !== undefined && peerRate !== undefined && peerRate > 0) {
    lines.push(`Node-RED on PostgreSQL: ${count(pgRate)} acks/s = ${(pgRate / peerRate).toFixed(2)} x the peer's; at 2,000/s p50 / p99 ${latency(row(pg, PHASE.offered2k))} ms`);
  }
  return lines.join('\n');
}
