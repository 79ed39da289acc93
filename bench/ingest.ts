/**
 * Ingest benchmark: how many RECEIVE + keepalive datagrams per second the GoipServer parses,
 * authenticates, acks and emits from 1,000 lines on loopback, and the ack latency.
 *
 * The server runs on this process's main thread (one core); the 1,000 lines, each with its own UDP
 * socket, run in a child process, as a real gateway fleet runs apart from the server.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { formatKeepalive, formatReport } from '../src/protocol';
import { GoipServer } from '../src/server';

interface Phase {
  name: string;
  /** Datagrams per second to offer; 0 = as fast as acks come back (closed loop). */
  rate: number;
  /** Closed loop: datagrams in flight per line. */
  window: number;
  durationMs: number;
}

interface PhaseResult {
  name: string;
  sent: number;
  acked: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface GeneratorInput {
  port: number;
  lines: number;
  phases: Phase[];
}

const RECEIVES_PER_KEEPALIVE = 3;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Load generator (worker thread): N lines, each its own socket, sending RECEIVEs and keepalives. */
async function generate(input: GeneratorInput): Promise<PhaseResult[]> {
  const sockets = await Promise.all(
    Array.from({ length: input.lines }, async () => {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      return socket;
    }),
  );
  // Datagram templates made once per line with the codec, split where the serial number goes, so
  // the generator spends its time on sockets rather than formatting (it shares 2 cores with the server).
  const MARK = '\u0000';
  const templates = sockets.map((_, i) => ({
    keepalive: formatKeepalive({ count: MARK, id: `goip${i}`, password: 'pw', fields: { num: '', signal: '25', gsm_status: 'LOGIN', voip_status: 'LOGOUT' } }).split(MARK),
    receive: formatReport('RECEIVE', MARK, `goip${i}`, 'pw', { srcnum: '+8613800138000', msg: `bench message ${MARK} 你好` }).split(MARK),
  }));
  const results: PhaseResult[] = [];
  let serial = 0;
  for (const phase of input.phases) {
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    let sent = 0;
    let acked = 0;
    let running = true;
    const started = performance.now();

    const sendOne = (lineIndex: number): void => {
      const n = ++serial;
      const isKeepalive = n % (RECEIVES_PER_KEEPALIVE + 1) === 0;
      const parts = isKeepalive ? templates[lineIndex].keepalive : templates[lineIndex].receive;
      sentAt.set(n, performance.now());
      sent++;
      sockets[lineIndex].send(parts.join(String(n)), input.port, '127.0.0.1');
    };

    // Acks are `reg:<n>;status:0;` or `RECEIVE <n> OK`.
    const onAck = (lineIndex: number) => (buffer: Buffer): void => {
      const n = buffer[0] === 0x72 ? parseInt(buffer.toString('latin1', 4, 24), 10) : parseInt(buffer.toString('latin1', 8, 28), 10);
      const at = sentAt.get(n);
      if (at === undefined) return;
      sentAt.delete(n);
      acked++;
      latencies.push(performance.now() - at);
      if (running && phase.rate === 0) sendOne(lineIndex);
    };
    const handlers = sockets.map((socket, i) => {
      const handler = onAck(i);
      socket.on('message', handler);
      return handler;
    });

    if (phase.rate === 0) {
      for (let w = 0; w < phase.window; w++) for (let i = 0; i < sockets.length; i++) sendOne(i);
      await new Promise((resolve) => setTimeout(resolve, phase.durationMs));
    } else {
      // Open loop: keep the offered count on schedule, spread over the lines round-robin.
      let next = 0;
      await new Promise<void>((resolve) => {
        const tick = (): void => {
          const elapsedMs = performance.now() - started;
          if (elapsedMs >= phase.durationMs) {
            resolve();
            return;
          }
          const due = Math.floor((elapsedMs / 1000) * phase.rate);
          while (sent < due) sendOne(next++ % sockets.length);
          setTimeout(tick, 1);
        };
        tick();
      });
    }
    running = false;
    const seconds = (performance.now() - started) / 1000;
    // Let the acks of datagrams still in flight land before the next phase.
    await new Promise((resolve) => setTimeout(resolve, 300));
    sockets.forEach((socket, i) => socket.off('message', handlers[i]));
    const sorted = Float64Array.from(latencies).sort();
    results.push({
      name: phase.name,
      sent,
      acked,
      seconds,
      perSecond: acked / seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
    });
  }
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  return results;
}

export interface IngestReport {
  lines: number;
  results: PhaseResult[];
  emitted: number;
  /** Share of wall time the server thread's event loop was busy. */
  serverBusy: number;
}

/** Drives `lines` generator lines at the server listening on `port` through `phases`. */
async function drive(port: number, lines: number, phases: Phase[]): Promise<PhaseResult[]> {
  const child = fork(__filename, [GENERATOR_FLAG], { stdio: 'inherit' });
  child.send({ port, lines, phases } satisfies GeneratorInput);
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

function phasesFor(seconds: number): Phase[] {
  // Warm-up first (JIT, socket buffers), then the latency phase at the target rate, then saturation.
  return [
    { name: 'warm-up 5,000/s', rate: 5_000, window: 0, durationMs: 1000 },
    { name: 'offered 20,000/s (open loop)', rate: 20_000, window: 0, durationMs: seconds * 1000 },
    { name: 'saturated (closed loop, 4 in flight per line)', rate: 0, window: 4, durationMs: seconds * 1000 },
  ];
}

export async function runIngest(lines = 1000, seconds = 5): Promise<IngestReport> {
  const devices = Array.from({ length: lines }, (_, i) => ({ id: `goip${i}`, password: 'pw' }));
  const server = new GoipServer({ bind: '127.0.0.1', port: 0, devices });
  let emitted = 0;
  server.on('event', () => {
    emitted++;
  });
  const { port } = await server.start();
  const eluBefore = performance.eventLoopUtilization();
  const results = await drive(port, lines, phasesFor(seconds));
  const elu = performance.eventLoopUtilization(eluBefore);
  await server.stop();
  return { lines, results, emitted, serverBusy: elu.utilization };
}

/**
 * The floor this machine sets: the same generator against a socket that only echoes the ack
 * (no parsing, no authentication, no events). The gap to it is what the GoIP server costs.
 */
export async function runEchoBaseline(lines = 1000, seconds = 5): Promise<PhaseResult[]> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setRecvBufferSize(4 * 1024 * 1024);
  socket.on('message', (buffer, rinfo) => {
    const text = buffer.toString('latin1', 0, 32);
    const ack = text.startsWith('req:') ? `reg:${text.slice(4, text.indexOf(';'))};status:0;` : `RECEIVE ${text.slice(8, text.indexOf(';'))} OK`;
    socket.send(ack, rinfo.port, rinfo.address);
  });
  try {
    return await drive(socket.address().port, lines, phasesFor(seconds));
  } finally {
    socket.close();
  }
}

export function formatPhases(title: string, results: PhaseResult[]): string {
  return [
    title,
    '',
    '| phase | sent | acked | acked/s | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.sent} | ${r.acked} | ${Math.round(r.perSecond).toLocaleString('en-US')} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.maxMs.toFixed(1)} |`,
    ),
  ].join('\n');
}

export function formatIngest(report: IngestReport): string {
  return [
    formatPhases(`Ingest: GoipServer, ${report.lines} lines on loopback, ${RECEIVES_PER_KEEPALIVE} RECEIVE per keepalive, server on one thread`, report.results),
    '',
    `events emitted: ${report.emitted}; server thread busy ${(report.serverBusy * 100).toFixed(0)}% of the run`,
  ].join('\n');
}

const GENERATOR_FLAG = '--goip-load-generator';

if (process.argv.includes(GENERATOR_FLAG)) {
  process.once('message', (input) => {
    void generate(input as GeneratorInput).then((results) => process.send?.(results));
  });
}
