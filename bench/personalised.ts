/**
 * Personalised batches: how long a real Node-RED takes to queue 10,000 recipients that each carry
 * their own `vars`, from the input reaching goip-send to its `done` (every rendered text
 * committed to the store), beside one text to the same 10,000. The flow is the one a user builds:
 * `http in` (POST /bench/send, the batch as JSON) -> goip-send; a `complete` node on goip-send ->
 * `http response`. No line is online, so nothing leaves the queue while it is measured; the time
 * is the HTTP round trip, which also holds the JSON parse of the body.
 */
import { performance } from 'node:perf_hooks';
import { devicesCredential, goipConfigNode } from '../test/helpers/flows';
import { freeUdpPort, NodeRedProcess } from '../test/helpers/node-red-process';

const RECIPIENTS = 10_000;
const ROUNDS = 3;
const ID = { tab: 'c1e1c2d3e4f50001', config: 'c1e1c2d3e4f50002', in: 'c1e1c2d3e4f50003', send: 'c1e1c2d3e4f50004', complete: 'c1e1c2d3e4f50005', catch: 'c1e1c2d3e4f50006', out: 'c1e1c2d3e4f50007', fail: 'c1e1c2d3e4f50008' };

function sendFlow(udpPort: number): unknown[] {
  return [
    { id: ID.tab, type: 'tab', label: 'bench personalised' },
    goipConfigNode({ id: ID.config, port: udpPort, store: 'goip-store.sqlite', credentials: { devices: devicesCredential(['goip01', 'goip02', 'goip03', 'goip04'], 'pw') } }),
    { id: ID.in, type: 'http in', z: ID.tab, url: '/bench/send', method: 'post', upload: false, swaggerDoc: '', wires: [[ID.send]] },
    { id: ID.send, type: 'goip-send', z: ID.tab, server: ID.config, line: '', to: '', toType: 'str', text: '', textType: 'str', country: '', numberFormat: 'e164', wires: [[]] },
    { id: ID.complete, type: 'complete', z: ID.tab, scope: [ID.send], uncaught: false, wires: [[ID.out]] },
    { id: ID.out, type: 'http response', z: ID.tab, statusCode: '200', headers: {}, wires: [] },
    { id: ID.catch, type: 'catch', z: ID.tab, scope: [ID.send], uncaught: false, wires: [[ID.fail]] },
    { id: ID.fail, type: 'http response', z: ID.tab, statusCode: '500', headers: {}, wires: [] },
  ];
}

const number = (i: number): string => `+4930${String(10_000_000 + i)}`;

function body(round: number, personalised: boolean): unknown {
  const to = Array.from({ length: RECIPIENTS }, (_, i) => (personalised ? { number: number(i), vars: { name: `Customer ${round}-${i}`, code: String(100_000 + i) } } : number(i)));
  return { text: personalised ? 'Hello {{name}}, your code is {{code}}' : 'Hello customer, your code is in the app', to };
}

export interface PersonalisedRow {
  kind: 'personalised' | 'one text';
  recipients: number;
  /** ms per round, input to done. */
  ms: number[];
}

export async function runPersonalised(): Promise<PersonalisedRow[]> {
  const red = await NodeRedProcess.start({ logLevel: 'warn' });
  try {
    await red.deploy(sendFlow(await freeUdpPort()));
    const rows: PersonalisedRow[] = [];
    for (const personalised of [true, false]) {
      const row: PersonalisedRow = { kind: personalised ? 'personalised' : 'one text', recipients: RECIPIENTS, ms: [] };
      // A first round warms the process (JIT, the store's pages); it is not counted.
      for (let round = 0; round <= ROUNDS; round++) {
        const started = performance.now();
        const res = await postUntilDeployed(red, body(round, personalised));
        if (res.status !== 200) throw new Error(`POST /bench/send: HTTP ${res.status} ${res.body.slice(0, 500)}`);
        if (round > 0) row.ms.push(performance.now() - started);
      }
      rows.push(row);
    }
    return rows;
  } finally {
    await red.kill('SIGTERM');
    await red.cleanup();
  }
}

/** A deploy answers before its nodes have started: the route is 404 until then. */
async function postUntilDeployed(red: NodeRedProcess, payload: unknown): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await red.request('POST', '/bench/send', payload);
    if (res.status !== 404 || Date.now() > deadline) return res;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function formatPersonalised(rows: readonly PersonalisedRow[]): string {
  const lines = [`Queueing ${RECIPIENTS.toLocaleString('en')} recipients in one goip-send input, real Node-RED (input to done, ${ROUNDS} rounds after a warm-up)`, '', '| batch | median ms | max ms |', '|---|---|---|'];
  for (const row of rows) {
    const sorted = [...row.ms].sort((a, b) => a - b);
    lines.push(`| ${row.kind} | ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} | ${sorted[sorted.length - 1].toFixed(0)} |`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  runPersonalised().then(
    (rows) => console.log(formatPersonalised(rows)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
