/**
 * The ingest benchmark's Node-RED target: a real Node-RED process (test/helpers/node-red-process)
 * with the flow a user builds to receive SMS: goip-config (its store in the user directory),
 * goip-in (events sms) and a function node that counts what reaches it. `http in` routes report
 * that count, how many distinct report ids it saw and how many twice (GET /bench/stats), and the
 * ids of a range that never reached it (GET /bench/unseen?from=&to=).
 */
import fs from 'node:fs';
import path from 'node:path';
import { devicesCredential, goipConfigNode } from '../test/helpers/flows';
import { freeUdpPort, NodeRedProcess } from '../test/helpers/node-red-process';

const ID = { tab: 'b0e1c2d3e4f50001', config: 'b0e1c2d3e4f50002', in: 'b0e1c2d3e4f50003', count: 'b0e1c2d3e4f50004', statsIn: 'b0e1c2d3e4f50005', stats: 'b0e1c2d3e4f50006', out: 'b0e1c2d3e4f50007', unseenIn: 'b0e1c2d3e4f50008', unseen: 'b0e1c2d3e4f50009' };
export const STORE_FILE = 'goip-store.sqlite';

/** goip-config's store: the SQLite file in the user directory (default), or a shared PostgreSQL. */
export interface StoreSetting {
  fields: Record<string, unknown>;
  credentials: Record<string, string>;
}
const SQLITE: StoreSetting = { fields: {}, credentials: {} };

export function postgresSetting(connectionString: string): StoreSetting {
  return { fields: { database: 'postgres', instance: 'bench', schema: 'goip' }, credentials: { connectionString } };
}

// The generator's report ids are one serial over all its lines, so an id alone tells a repeat.
const COUNT_INIT = "flow.set('benchStats', { count: 0, distinct: 0, twice: 0, seen: new Uint8Array(1 << 21) });";
const COUNT_FUNC = `const stats = flow.get('benchStats');
stats.count++;
const id = Number(msg.goip.reportId);
if (id >= stats.seen.length) {
  const grown = new Uint8Array(Math.max(id + 1, stats.seen.length * 2));
  grown.set(stats.seen);
  stats.seen = grown;
}
if (stats.seen[id] === 1) stats.twice++;
else {
  stats.seen[id] = 1;
  stats.distinct++;
}
return null;`;
const UNSEEN_FUNC = `const s = flow.get('benchStats');
const from = Number(msg.req.query.from);
const to = Number(msg.req.query.to);
const unseen = [];
for (let id = from; id <= to; id++) if (id >= s.seen.length || s.seen[id] !== 1) unseen.push(id);
msg.payload = unseen;
return msg;`;
const STATS_FUNC = "const s = flow.get('benchStats');\nmsg.payload = { count: s.count, distinct: s.distinct, twice: s.twice };\nreturn msg;";

function receiveFlow(udpPort: number, lines: number, store: StoreSetting): unknown[] {
  const ids = Array.from({ length: lines }, (_, i) => `goip${i}`);
  const fn = (id: string, name: string, func: string, initialize: string, wires: string[][]): Record<string, unknown> => ({
    id,
    type: 'function',
    z: ID.tab,
    name,
    func,
    outputs: 1,
    timeout: 0,
    noerr: 0,
    initialize,
    finalize: '',
    libs: [],
    wires,
  });
  return [
    { id: ID.tab, type: 'tab', label: 'bench receive' },
    goipConfigNode({ id: ID.config, port: udpPort, store: STORE_FILE, ...store.fields, credentials: { devices: devicesCredential(ids, 'pw'), ...store.credentials } }),
    { id: ID.in, type: 'goip-in', z: ID.tab, name: '', server: ID.config, events: 'sms', line: '', wires: [[ID.count]] },
    fn(ID.count, 'count', COUNT_FUNC, COUNT_INIT, [[]]),
    { id: ID.statsIn, type: 'http in', z: ID.tab, name: '', url: '/bench/stats', method: 'get', upload: false, swaggerDoc: '', wires: [[ID.stats]] },
    fn(ID.stats, 'stats', STATS_FUNC, '', [[ID.out]]),
    { id: ID.unseenIn, type: 'http in', z: ID.tab, name: '', url: '/bench/unseen', method: 'get', upload: false, swaggerDoc: '', wires: [[ID.unseen]] },
    fn(ID.unseen, 'unseen', UNSEEN_FUNC, '', [[ID.out]]),
    { id: ID.out, type: 'http response', z: ID.tab, statusCode: '200', headers: {}, wires: [] },
  ];
}

export interface FlowStats {
  count: number;
  distinct: number;
  twice: number;
}

export interface ServerCounters {
  datagrams: number;
  duplicates: number;
  emitted: number;
  rejected: number;
  invalid: number;
}

/** /proc/<pid>/status figures in MB. */
export interface Memory {
  rssMb: number;
  peakRssMb: number;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class NodeRedReceiver {
  private constructor(
    readonly red: NodeRedProcess,
    readonly port: number,
  ) {}

  /** Starts Node-RED, deploys the flow with `lines` lines in goip-config's devices and waits until its socket listens. */
  static async start(lines: number, store: StoreSetting = SQLITE): Promise<NodeRedReceiver> {
    // BENCH_NODE_ARGS (space-separated) profiles the process users run, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
    const red = await NodeRedProcess.start({ logLevel: 'warn', nodeArgs });
    try {
      const port = await freeUdpPort();
      await red.deploy(receiveFlow(port, lines, store));
      const receiver = new NodeRedReceiver(red, port);
      const deadline = Date.now() + 30_000;
      // A deploy answers before its nodes have started: 404 until goip-config exists.
      while (((await receiver.lines()) ?? { listening: null }).listening === null) {
        if (Date.now() > deadline) throw new Error(`goip-config never listened\n${red.output().slice(-2000)}`);
        await delay(100);
      }
      return receiver;
    } catch (err) {
      await red.cleanup();
      throw err;
    }
  }

  get pid(): number {
    const pid = this.red.pid;
    if (pid === undefined) throw new Error('Node-RED is not running');
    return pid;
  }

  get storePath(): string {
    return path.join(this.red.userDir, STORE_FILE);
  }

  /** Bytes of the store on disk: the database and its WAL. */
  storeBytes(): number {
    return ['', '-wal'].reduce((sum, suffix) => sum + (fs.statSync(this.storePath + suffix, { throwIfNoEntry: false })?.size ?? 0), 0);
  }

  private async lines(): Promise<{ listening: unknown; counters: ServerCounters | null } | null> {
    const res = await this.red.request('GET', `/goip/${ID.config}/lines`);
    if (res.status === 404) return null;
    if (res.status !== 200) throw new Error(`GET /goip/${ID.config}/lines: HTTP ${res.status} ${res.body}`);
    return JSON.parse(res.body) as { listening: unknown; counters: ServerCounters | null };
  }

  /** The goip-config server's counters (admin endpoint). */
  async counters(): Promise<ServerCounters> {
    const counters = (await this.lines())?.counters ?? null;
    if (counters === null) throw new Error('goip-config has no server');
    return counters;
  }

  /** What reached the function node. */
  async stats(): Promise<FlowStats> {
    const res = await this.red.request('GET', '/bench/stats');
    if (res.status !== 200) throw new Error(`GET /bench/stats: HTTP ${res.status} ${res.body}`);
    return JSON.parse(res.body) as FlowStats;
  }

  /** The report ids from `from` to `to` (inclusive) that never reached the function node. */
  async unseen(from: number, to: number): Promise<number[]> {
    const res = await this.red.request('GET', `/bench/unseen?from=${from}&to=${to}`);
    if (res.status !== 200) throw new Error(`GET /bench/unseen: HTTP ${res.status} ${res.body}`);
    return JSON.parse(res.body) as number[];
  }

  memory(): Memory {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  }

  /** CPU seconds the process used so far (user + system; Linux reports them in USER_HZ = 100 ticks a second). */
  cpuSeconds(): number {
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  async stop(): Promise<void> {
    await this.red.kill('SIGTERM');
    await this.red.cleanup();
  }
}
