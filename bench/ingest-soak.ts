/**
 * Receive soak: a long run of RECEIVEs at a steady offered rate into the Node-RED target
 * (goip-config + goip-in + a counting function node, bench/ingest-node-red.ts). The lines behave
 * like GoIPs: an unacked RECEIVE goes again with the same id every second, a few times, then is
 * given up. Reports what was sent, acked and given up, what reached the flow (and whether each
 * once), the Node-RED process's memory before and after, and the store's size after.
 *
 * Part of `npm run bench` unless BENCH_SOAK=0; alone: `node dist-test/bench/ingest-soak.js`.
 * BENCH_SOAK_RECEIVES (default 1,000,000), BENCH_SOAK_RATE (8,000/s), BENCH_SOAK_LINES (100),
 * BENCH_SOAK_RESENDS (3), BENCH_SOAK_RESEND_MS (1,000).
 */
import { performance } from 'node:perf_hooks';
import { drive, envNumber, LINES, type Phase } from './ingest';
import { type FlowStats, NodeRedReceiver } from './ingest-node-red';

export interface SoakSettings {
  receives: number;
  rate: number;
  lines: number;
  resends: number;
  resendMs: number;
}

export function soakSettings(): SoakSettings {
  return {
    receives: envNumber('BENCH_SOAK_RECEIVES', 1_000_000),
    rate: envNumber('BENCH_SOAK_RATE', 8_000),
    lines: envNumber('BENCH_SOAK_LINES', 100),
    resends: envNumber('BENCH_SOAK_RESENDS', 3),
    resendMs: envNumber('BENCH_SOAK_RESEND_MS', 1_000),
  };
}

/** Report ids of the soak start here, past the warm-up's: the server would drop a repeated id as a resend. */
const SOAK_SERIAL_BASE = 100_000;
const WARM_UP_MS = 2_000;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the flow's count stops moving (the flow has caught up with the acks), at most `timeoutMs`. */
async function settled(receiver: NodeRedReceiver, timeoutMs: number): Promise<FlowStats> {
  const deadline = performance.now() + timeoutMs;
  let last = await receiver.stats();
  for (;;) {
    await delay(500);
    const now = await receiver.stats();
    if (now.count === last.count || performance.now() > deadline) return now;
    last = now;
  }
}

export async function runSoak(settings: SoakSettings = soakSettings()): Promise<string> {
  const started = performance.now();
  const receiver = await NodeRedReceiver.start(LINES);
  try {
    const resend = { intervalMs: settings.resendMs, max: settings.resends };
    const steady = (name: string, count: number): Phase => ({
      name,
      rate: settings.rate,
      window: 0,
      durationMs: (count / settings.rate) * 1500 + 5_000,
      count,
      lines: settings.lines,
      receivesPerKeepalive: 0,
      resend,
      trackIds: true,
    });
    const warmUpCount = Math.min(SOAK_SERIAL_BASE, Math.round((settings.rate * WARM_UP_MS) / 1000));
    await drive(receiver.port, settings.lines, [steady('warm-up', warmUpCount)], { register: true });
    const before = { stats: await settled(receiver, 10_000), counters: await receiver.counters(), memory: receiver.memory(), cpu: receiver.cpuSeconds() };
    const soakStarted = performance.now();
    const [soak] = await drive(receiver.port, settings.lines, [steady('soak', settings.receives)], { serialBase: SOAK_SERIAL_BASE, register: true });
    const stats = await settled(receiver, 60_000);
    const soakSeconds = (performance.now() - soakStarted) / 1000;
    const counters = await receiver.counters();
    const memory = receiver.memory();
    const cpu = (receiver.cpuSeconds() - before.cpu) / soakSeconds;
    const storeMb = receiver.storeBytes() / 1e6;
    const unseen = new Set(soak.firstId === undefined || soak.lastId === undefined ? [] : await receiver.unseen(soak.firstId, soak.lastId));
    const givenUp = new Set(soak.unackedIds ?? []);
    const ackedNotEmitted = [...unseen].filter((id) => !givenUp.has(id)).length;
    const givenUpEmitted = [...givenUp].filter((id) => !unseen.has(id)).length;
    const emitted = stats.count - before.stats.count;
    const distinct = stats.distinct - before.stats.distinct;
    const mb = (n: number): string => `${n.toFixed(0)} MB`;
    const rows: Array<[string, string | number]> = [
      ['RECEIVEs sent (first sends)', soak.sent],
      ['acked', soak.acked],
      ['given up (no ack after the resends)', soak.unacked],
      ['resends', soak.resent],
      ['resends the server dropped as repeats', counters.duplicates - before.counters.duplicates],
      ['sms reaching the function node', emitted],
      ['... distinct report ids', distinct],
      ['... seen twice', stats.twice - before.stats.twice],
      ['acked but never reached the flow', ackedNotEmitted],
      ['given up but reached the flow (acks too late)', givenUpEmitted],
      ['offered for (s)', soak.seconds.toFixed(1)],
      ['acked/s over the offered time', Math.round(soak.perSecond).toLocaleString('en-US')],
      ['ack latency p50 / p99 / max ms (from the first send)', `${soak.p50Ms.toFixed(2)} / ${soak.p99Ms.toFixed(2)} / ${soak.maxMs.toFixed(1)}`],
      ['Node-RED RSS before / after / growth', `${mb(before.memory.rssMb)} / ${mb(memory.rssMb)} / ${mb(memory.rssMb - before.memory.rssMb)}`],
      ['Node-RED peak RSS (VmHWM)', mb(memory.peakRssMb)],
      ['Node-RED CPU over the soak (share of one core)', `${(cpu * 100).toFixed(0)}%`],
      ['store after (db + WAL)', `${storeMb.toFixed(1)} MB`],
    ];
    const title =
      `Receive soak: ${settings.receives.toLocaleString('en-US')} RECEIVEs from ${settings.lines} lines at ${settings.rate.toLocaleString('en-US')}/s offered, ` +
      `into a real Node-RED (goip-config with ${LINES} lines + goip-in + counting function); a RECEIVE unacked after ${settings.resendMs} ms goes again, up to ${settings.resends} times`;
    return [
      title,
      '',
      '| measure | value |',
      '|---|---|',
      ...rows.map(([name, value]) => `| ${name} | ${value} |`),
      '',
      `soak took ${((performance.now() - started) / 1000).toFixed(0)} s in all (Node-RED start, warm-up of ${warmUpCount} RECEIVEs, soak, settling)`,
    ].join('\n');
  } finally {
    await receiver.stop();
  }
}

/** `npm run bench` runs the soak (about 2.5 minutes) unless BENCH_SOAK=0. */
export function soakWanted(): boolean {
  return (process.env.BENCH_SOAK ?? '1') !== '0';
}

if (require.main === module) {
  runSoak().then(
    (text) => console.log(text),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
