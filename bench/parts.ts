/**
 * Part-joining benchmark: what holding the parts of long SMS costs the receive path. A GoipGateway
 * with its SQLite store in a temp file (WAL, synchronous=FULL: each held part is one commit before
 * its ack leaves) gets RECEIVEs over loopback one at a time (send, wait for the ack): ordinary
 * texts, then long SMS as three parts (153 + 153 + 40 characters, two held and one that joins).
 * Prints acks/s and the ack latency the line sees. Run alone: `node dist-test/bench/parts.js`.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { GoipGateway } from '../src/gateway';
import { formatKeepalive, formatReport } from '../src/protocol';

const PASSWORD = 'pw';
const LONG_SMS = ['a'.repeat(153), 'b'.repeat(153), 'c'.repeat(40)];

interface Row {
  name: string;
  reports: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Sends each datagram and waits for the next one back (its ack); the round-trip times in ms. */
async function roundTrips(socket: dgram.Socket, port: number, datagrams: string[]): Promise<number[]> {
  const times: number[] = [];
  for (const datagram of datagrams) {
    const start = performance.now();
    await new Promise<void>((resolve) => {
      socket.once('message', () => resolve());
      socket.send(datagram, port, '127.0.0.1');
    });
    times.push(performance.now() - start);
  }
  return times;
}

function row(name: string, times: number[], seconds: number): Row {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { name, reports: times.length, perSecond: times.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1] };
}

export async function runParts(messages = 1000): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-bench-parts-'));
  const gateway = new GoipGateway({ server: { bind: '127.0.0.1', port: 0, devices: [{ id: 'goip01', password: PASSWORD }] }, store: path.join(dir, 'store.sqlite') });
  const socket = dgram.createSocket('udp4');
  try {
    const port = (await gateway.start())?.port ?? 0;
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    let joined = 0;
    gateway.on('event', (event) => {
      if (event.event === 'sms' && (event.parts ?? 1) > 1) joined++;
    });
    await roundTrips(socket, port, [formatKeepalive({ count: 1, id: 'goip01', password: PASSWORD, fields: { signal: '20' } })]);
    let reportId = 1;
    const receive = (from: string, text: string): string => formatReport('RECEIVE', reportId++, 'goip01', PASSWORD, { srcnum: from, msg: text });
    const rows: Row[] = [];
    const measure = async (name: string, datagrams: string[]): Promise<void> => {
      const start = performance.now();
      const times = await roundTrips(socket, port, datagrams);
      rows.push(row(name, times, (performance.now() - start) / 1000));
    };
    await measure('ordinary SMS (passes at once)', Array.from({ length: messages }, (_, i) => receive(`+86139${String(i).padStart(8, '0')}`, `hello ${i}`)));
    await measure('long SMS in 3 parts (2 held, 1 joins)', Array.from({ length: messages }, (_, i) => LONG_SMS.map((text) => receive(`+86138${String(i).padStart(8, '0')}`, text))).flat());
    if (joined !== messages) throw new Error(`${joined} of ${messages} long SMS joined`);
    return rows;
  } finally {
    socket.close();
    await gateway.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatParts(rows: Row[]): string {
  const lines = [
    'Part joining: GoipGateway + SQLite store (WAL, synchronous=FULL), one RECEIVE at a time on loopback',
    '',
    '| traffic | reports | acks/s | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.reports} | ${Math.round(r.perSecond).toLocaleString('en-US')} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.maxMs.toFixed(1)} |`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  runParts().then(
    (rows) => console.log(formatParts(rows)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
