/**
 * The systems under test of the ingest benchmark, each driven by the same generator
 * (bench/ingest.ts): GoipServer alone, GoipGateway with its SQLite store, a real Node-RED running
 * goip-config + goip-in + a function node, the standalone server of the `goip` npm package (a
 * measurement peer), and a bare echo socket (the floor of the machine).
 *
 * Alone: `node dist-test/bench/ingest-targets.js` (after `npm run build:test`); BENCH_INGEST picks
 * targets by name, comma-separated (server, gateway, node-red, node-red-pg, peer, echo).
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { GoipGateway, type GoipGatewayOptions } from '../src/gateway';
import { GoipServer } from '../src/link';
import { freeUdpPort } from '../test/helpers/node-red-process';
import { drive, formatSummary, formatTarget, type IngestSettings, ingestSettings, LINES, type Phase, phases, RECEIVES_PER_KEEPALIVE, type TargetReport } from './ingest';
import { NodeRedReceiver, postgresSetting } from './ingest-node-red';
import { PgCluster } from '../test/helpers/postgres';

/** A receiver listening on 127.0.0.1:port; finish() stops it and returns the notes for its table. */
interface Receiver {
  port: number;
  finish(): Promise<string[]>;
}

interface Target {
  name: string;
  title: string;
  phases(settings: IngestSettings): Phase[];
  start(): Promise<Receiver>;
}

const devices = Array.from({ length: LINES }, (_, i) => ({ id: `goip${i}`, password: 'pw' }));
const percent = (share: number): string => `${(share * 100).toFixed(0)}%`;

/** The event loop utilisation of this thread from now until the returned function is called. */
function busyMeter(): () => number {
  const before = performance.eventLoopUtilization();
  return () => performance.eventLoopUtilization(before).utilization;
}

const server: Target = {
  name: 'GoipServer',
  title: `Ingest: GoipServer, ${LINES} lines on loopback, ${RECEIVES_PER_KEEPALIVE} RECEIVE per keepalive, server on one thread`,
  phases: ({ seconds }) => [phases.warmUp(), phases.offered5k(seconds), phases.offered20k(seconds), phases.saturated(seconds)],
  async start() {
    const goip = new GoipServer({ bind: '127.0.0.1', port: 0, devices });
    let emitted = 0;
    goip.on('event', () => {
      emitted++;
    });
    const { port } = await goip.start();
    const busy = busyMeter();
    return {
      port,
      async finish() {
        const share = busy();
        await goip.stop();
        return [`events emitted: ${emitted}; server thread busy ${percent(share)} of the run`];
      },
    };
  },
};

const gateway: Target = {
  name: 'GoipGateway + SQLite store',
  title: `Ingest: GoipGateway with its SQLite store (temp file, WAL, synchronous=FULL), inbox: true, ${LINES} lines, on one thread`,
  phases: ({ seconds, deviceSeconds }) => [phases.warmUp(), phases.offered5k(seconds), phases.device(deviceSeconds), phases.saturated(seconds)],
  async start() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-bench-ingest-'));
    const options: GoipGatewayOptions = { server: { bind: '127.0.0.1', port: 0, devices }, store: path.join(dir, 'store.sqlite') };
    const goip = new GoipGateway({ ...options, inbox: true });
    let sms = 0;
    goip.on('event', (event) => {
      if (event.event === 'sms') sms++;
    });
    const address = await goip.start();
    if (address === null) throw new Error('the gateway did not start');
    const busy = busyMeter();
    return {
      port: address.port,
      async finish() {
        const share = busy();
        await goip.stop();
        const storeBytes = ['', '-wal'].reduce((sum, suffix) => sum + (fs.statSync(path.join(dir, `store.sqlite${suffix}`), { throwIfNoEntry: false })?.size ?? 0), 0);
        fs.rmSync(dir, { recursive: true, force: true });
        return [`sms events emitted: ${sms}; gateway thread busy ${percent(share)} of the run; store after the run ${(storeBytes / 1e6).toFixed(1)} MB`];
      },
    };
  },
};

/** A started Node-RED receiver measured as a target: its flow's count, its server's counters, its CPU and memory. */
function measuredNodeRed(receiver: NodeRedReceiver, afterStop: () => void = () => undefined): Receiver {
  const cpuBefore = receiver.cpuSeconds();
  const started = performance.now();
  return {
    port: receiver.port,
    async finish() {
      const cpu = (receiver.cpuSeconds() - cpuBefore) / ((performance.now() - started) / 1000);
      const stats = await receiver.stats();
      const counters = await receiver.counters();
      const memory = receiver.memory();
      await receiver.stop();
      afterStop();
      return [
        `sms reaching the function node: ${stats.count} (${stats.twice} of them twice); server datagrams ${counters.datagrams}, events ${counters.emitted}`,
        `Node-RED process CPU ${percent(cpu)} of one core over the run; RSS at the end ${memory.rssMb.toFixed(0)} MB (peak ${memory.peakRssMb.toFixed(0)} MB)`,
      ];
    },
  };
}

const nodeRed: Target = {
  name: 'Node-RED (goip-config + goip-in + function)',
  title: `Ingest: a real Node-RED process (Node-RED 4, Node ${process.versions.node}) running goip-config (${LINES} lines, store in the user dir) + goip-in (sms) + a counting function node`,
  phases: ({ seconds, deviceSeconds }) => [phases.warmUp(), phases.offered5k(seconds), phases.device(deviceSeconds), phases.saturated(seconds)],
  async start() {
    return measuredNodeRed(await NodeRedReceiver.start(LINES));
  },
};

const nodeRedPg: Target = {
  name: 'Node-RED on PostgreSQL (goip-config database postgres + goip-in + function)',
  title: `Ingest: a real Node-RED process (Node-RED 4, Node ${process.versions.node}) running goip-config on a shared PostgreSQL (throwaway cluster on loopback, fsync on, ${LINES} lines) + goip-in (sms) + a counting function node`,
  phases: ({ seconds, deviceSeconds }) => [phases.warmUp(), phases.offered2k(seconds), phases.offered5k(seconds), phases.device(deviceSeconds), phases.saturated(seconds)],
  async start() {
    const cluster = await PgCluster.start({ durable: true });
    try {
      return measuredNodeRed(await NodeRedReceiver.start(LINES, postgresSetting(cluster.createDatabase('ingest'))), () => cluster.stop());
    } catch (err) {
      cluster.stop();
      throw err;
    }
  },
};

/** The parts of the `goip` package (0.2.0, no type declarations) this benchmark uses. */
interface PeerServer {
  onReceive(callback: (message: unknown) => void): void;
  onAll(callback: (message: unknown) => void): void;
  onServerListening(callback: () => void): void;
  onServerError(callback: (err: Error) => void): void;
  run(): void;
  close(): void;
}
interface PeerLibrary {
  ServerFactory: { make(port: number, options: { address: string }): PeerServer };
}

const peer: Target = {
  name: 'goip 0.2.0 (npm) standalone server',
  title: `Ingest: the standalone UDP server of the npm package goip 0.2.0 (ServerFactory.make, onAll), in this process on one thread, ${LINES} lines`,
  phases: ({ seconds }) => [phases.warmUp(), phases.offered5k(seconds), phases.saturated(seconds)],
  async start() {
    const { ServerFactory } = require('goip') as PeerLibrary;
    const port = await freeUdpPort();
    const goip = ServerFactory.make(port, { address: '127.0.0.1' });
    let messages = 0;
    let receives = 0;
    goip.onAll(() => {
      messages++;
    });
    goip.onReceive(() => {
      receives++;
    });
    await new Promise<void>((resolve, reject) => {
      goip.onServerListening(resolve);
      goip.onServerError(reject);
      goip.run();
    });
    const busy = busyMeter();
    return {
      port,
      async finish() {
        const share = busy();
        goip.close();
        return [`messages emitted: ${messages} (receive: ${receives}); server thread busy ${percent(share)} of the run`];
      },
    };
  },
};

const echo: Target = {
  name: 'bare echo socket (the floor)',
  title: 'Baseline: the same generator against a bare echo socket (the floor of this machine)',
  phases: ({ seconds }) => [phases.warmUp(), phases.offered5k(seconds), phases.offered20k(seconds), phases.saturated(seconds)],
  async start() {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    socket.setRecvBufferSize(4 * 1024 * 1024);
    socket.on('message', (buffer, rinfo) => {
      const text = buffer.toString('latin1', 0, 32);
      const ack = text.startsWith('req:') ? `reg:${text.slice(4, text.indexOf(';'))};status:0;` : `RECEIVE ${text.slice(8, text.indexOf(';'))} OK`;
      socket.send(ack, rinfo.port, rinfo.address);
    });
    return {
      port: socket.address().port,
      async finish() {
        await new Promise<void>((resolve) => socket.close(() => resolve()));
        return [];
      },
    };
  },
};

export const TARGETS = { server, gateway, 'node-red': nodeRed, 'node-red-pg': nodeRedPg, peer, echo } as const;
export type TargetKey = keyof typeof TARGETS;

async function measure(target: Target, settings: IngestSettings): Promise<TargetReport> {
  const receiver = await target.start();
  let results;
  try {
    results = await drive(receiver.port, LINES, target.phases(settings));
  } catch (err) {
    await receiver.finish().catch(() => undefined);
    throw err;
  }
  return { name: target.name, title: target.title, results, notes: await receiver.finish() };
}

/** The targets BENCH_INGEST names (comma-separated keys of TARGETS), default all. */
export function selectedTargets(): TargetKey[] {
  const all = Object.keys(TARGETS) as TargetKey[];
  const wanted = (process.env.BENCH_INGEST ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (wanted.length === 0) return all;
  for (const name of wanted) if (!all.includes(name as TargetKey)) throw new Error(`BENCH_INGEST: unknown target ${name} (one of ${all.join(', ')})`);
  return wanted as TargetKey[];
}

/** Measures each target in turn, printing its table as soon as it has one, then the summary. */
export async function runIngestTargets(keys: TargetKey[] = selectedTargets(), settings: IngestSettings = ingestSettings()): Promise<TargetReport[]> {
  const reports: TargetReport[] = [];
  for (const key of keys) {
    const report = await measure(TARGETS[key], settings);
    reports.push(report);
    console.log(`${formatTarget(report)}\n`);
  }
  console.log(formatSummary(reports, nodeRed.name, peer.name, nodeRedPg.name));
  return reports;
}

if (require.main === module) {
  runIngestTargets().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
