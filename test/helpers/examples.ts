/**
 * The example flows as a user gets them, for the real-runtime suites (examples, install): listed
 * and fetched from the editor's example library (`GET /library/examples/flows/<package>[/<name>]`),
 * with only what a user fills in rewritten (the goip-config node's port, bind address, store file and
 * `devices` credential), deployed in full through the Admin API, driven by two simulated GoIP lines,
 * and checked through what the editor sees: the debug messages and node statuses on the comms
 * websocket, or HTTP.
 *
 * Examples are discovered by listing examples/: a new one is at least deployed, driven by the
 * lines and checked for node errors; the behaviour checks below are keyed by example name.
 */
import { PgCluster, postgresMissing } from './postgres';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { type SimFleet, lineIds, startLines } from '../../src/sim';
import { type DebugMessage, LOG_ERROR, LOG_WARN, NodeRedComms, debugValue } from './comms';
import { devicesCredential } from './flows';
import { freeUdpPort, type NodeRedProcess, PACKAGE_ROOT } from './node-red-process';

export const PACKAGE = 'node-red-contrib-goip-sms';
const EXAMPLES_DIR = path.join(PACKAGE_ROOT, 'examples');
const LINES = 2;
const PASSWORD = 'examples-secret';
const SIM_NUMBER = '+8613912345678';
/** Bound on one expected event (normally tens of milliseconds). */
const WAIT_MS = 15_000;
/** Node types that are no registered node type (flow structure). */
const STRUCTURAL_TYPES = new Set(['tab', 'subflow', 'group', 'junction']);
/** Nodes whose red status is expected here: no MQTT broker runs on localhost:1883. */
const MAY_BE_RED = /^mqtt/;

type FlowNode = Record<string, any>;

export const exampleNames = fs
  .readdirSync(EXAMPLES_DIR)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.slice(0, -'.json'.length))
  .sort();

/** One deployed example with its simulated lines. */
interface ExampleRun {
  name: string;
  flow: FlowNode[];
  red: NodeRedProcess;
  comms: NodeRedComms;
  fleet: SimFleet;
  /** comms position before the deploy. */
  since: number;
}

/** The example's node of `type` named `name` (the first of that type when no name is given). */
function nodeOf(run: ExampleRun, type: string, name?: string): FlowNode {
  const node = run.flow.find((n) => n.type === type && (name === undefined || n.name === name));
  assert.ok(node, `${run.name}: no ${type} node${name === undefined ? '' : ` named "${name}"`}`);
  return node;
}

/** The next value debug node `name` shows (from `since` on) that `match` accepts. */
async function debugOf(run: ExampleRun, name: string, since: number, match: (value: any) => boolean = () => true): Promise<any> {
  const id = nodeOf(run, 'debug', name).id;
  const message = await run.comms.waitDebug(
    (m) => m.id === id && m.level === undefined && match(debugValue(m)),
    since,
    WAIT_MS,
    () => `${run.name}: debug "${name}" showed nothing expected\n${run.red.output().slice(-2000)}`,
  );
  return debugValue(message);
}

/** Presses an inject node's button the way the editor does. */
async function inject(run: ExampleRun, name: string): Promise<void> {
  const res = await run.red.request('POST', `/inject/${nodeOf(run, 'inject', name).id}`);
  assert.equal(res.status, 200, `${run.name}: POST /inject for "${name}": ${res.status} ${res.body}`);
}

/** Debug messages of debug node `name` since `since` (to check that nothing reached it). */
function shown(run: ExampleRun, name: string, since: number): DebugMessage[] {
  const id = nodeOf(run, 'debug', name).id;
  return run.comms.debug.slice(since).filter((m) => m.id === id);
}

/** A simulated RECEIVE from line goip01 that the server acked. */
async function receiveSms(run: ExampleRun, from: string, text: string): Promise<void> {
  const line = run.fleet.line('goip01');
  assert.ok(line);
  const result = await line.receiveSms(from, text);
  assert.ok(result.acked, `${run.name}: RECEIVE not acked: ${JSON.stringify(result)}`);
}

/** Resolves once `count` SMS went over the air (the simulated radios' ledger). */
function ledgerHas(run: ExampleRun, count: number): Promise<void> {
  const ledger = run.fleet.ledger;
  if (ledger.sent.length >= count) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onSent = (): void => {
      if (ledger.sent.length < count) return;
      clearTimeout(timer);
      ledger.off('sent', onSent);
      resolve();
    };
    const timer = setTimeout(() => {
      ledger.off('sent', onSent);
      reject(new Error(`${run.name}: ${ledger.sent.length}/${count} SMS went over the air (after ${WAIT_MS} ms)`));
    }, WAIT_MS);
    ledger.on('sent', onSent);
  });
}

/** What the Node-RED of the examples is started with: the login of the dosend.php example. */
export const EXAMPLES_ENV = { GOIP_HTTP_USER: 'root', GOIP_HTTP_PASSWORD: 'dosend-secret' };

/** A dosend.php request as the vendor's clients make it: GET with a query, or POST with a form. */
function dosend(run: ExampleRun, method: 'GET' | 'POST', fields: Record<string, string>): Promise<{ status: number; body: string }> {
  const query = new URLSearchParams({ USERNAME: EXAMPLES_ENV.GOIP_HTTP_USER, PASSWORD: EXAMPLES_ENV.GOIP_HTTP_PASSWORD, method: '2', ...fields }).toString();
  return method === 'GET'
    ? run.red.request('GET', `/goip/en/dosend.php?${query}`)
    : run.red.request('POST', '/goip/en/dosend.php', Buffer.from(query), { 'Content-Type': 'application/x-www-form-urlencoded' });
}

/** What each example does, checked small; examples not listed here are deployed and driven only. */
export const behaviour: Record<string, { what: string; check: (run: ExampleRun) => Promise<void> }> = {
  'receive-sms-to-email': {
    what: 'a received SMS becomes the e-mail message',
    async check(run) {
      const since = run.comms.mark();
      await receiveSms(run, '+8613800138000', 'to e-mail 你好');
      const msg = await debugOf(run, 'to e-mail (add node-red-node-email here)', since);
      assert.equal(msg.topic, 'SMS from +8613800138000 on goip01');
      assert.match(msg.payload, /^From: \+8613800138000\nLine: goip01\nReceived: .+\n\nto e-mail 你好$/);
    },
  },
  'low-balance-alert': {
    what: 'a line answering `Your balance is 12.34` (below 20) becomes the low-balance e-mail',
    async check(run) {
      const msg = await debugOf(run, 'to e-mail (add node-red-node-email here)', run.since);
      assert.match(msg.topic, /^Low balance on goip0\d: 12\.34$/);
      assert.match(msg.payload, /^Line: goip0\d\nBalance: 12\.34 \(alert below 20\)\nNetwork answer: Your balance is 12\.34\n\nThe line takes no SMS until it is topped up\.$/);
    },
  },
  'receive-sms-to-mqtt': {
    what: 'a received SMS reaches the mqtt out node (no broker: nothing breaks)',
    async check(run) {
      // No debug node in this example: a test probe (a complete node on the change node, on the
      // example's tab, wired to a debug node) sees the message on its way to mqtt out.
      const since = run.comms.mark();
      await receiveSms(run, '+8613800138000', 'to MQTT');
      const msg = await debugOf(run, 'test probe', since);
      assert.deepEqual({ from: msg.payload.from, line: msg.payload.line, text: msg.payload.text }, { from: '+8613800138000', line: 'goip01', text: 'to MQTT' });
      assert.equal(typeof msg.payload.received, 'string');
    },
  },
  'simulated-receive': {
    what: 'a received SMS shows in "received SMS" and "goip events"',
    async check(run) {
      const since = run.comms.mark();
      await receiveSms(run, '+8613800138000', 'simulated 模拟');
      assert.equal(await debugOf(run, 'received SMS', since), 'simulated 模拟');
      const event = await debugOf(run, 'goip events', since, (msg) => msg.event === 'sms');
      assert.deepEqual([event.topic, event.line, event.from, event.payload], ['goip/goip01/sms', 'goip01', '+8613800138000', 'simulated 模拟']);
    },
  },
  'line-online-offline-alerts': {
    what: 'each line coming online gives an online alert',
    async check(run) {
      for (const line of lineIds(LINES)) {
        const text = await debugOf(run, 'online alerts', run.since, (t) => typeof t === 'string' && t.startsWith(`GoIP line ${line} is online`));
        assert.match(text, /^GoIP line goip0\d is online( on .+)? \(from 127\.0\.0\.1(:\d+)?\)$/);
      }
      assert.deepEqual(shown(run, 'offline alerts', run.since), [], 'no offline alert');
    },
  },
  'several-instances-postgres': {
    what: 'on a PostgreSQL store: POST /goip/cluster/sms answers 202 and the SMS is sent; a received SMS reaches the flow; the queue status answers',
    async check(run) {
      const since = run.comms.mark();
      const ok = await run.red.request('POST', '/goip/cluster/sms', { to: '+8613800138000', text: 'shared 你好' });
      assert.equal(ok.status, 202, ok.body);
      const result = await debugOf(run, 'results (on the sending instance)', since);
      assert.deepEqual([result.to, result.status], ['+8613800138000', 'sent']);
      await ledgerHas(run, 1);
      await receiveSms(run, '+8613800138001', 'from the cluster');
      const received = await debugOf(run, 'received SMS', since);
      assert.equal(received.payload, 'from the cluster');
      await inject(run, 'Queue status');
      const status = await debugOf(run, 'queue of the cluster', since);
      assert.equal(status.sent, 1);
    },
  },
  'send-sms-http-endpoint': {
    what: 'POST /goip/sms answers 202 and the SMS is sent; a bad request answers 400 with the reason',
    async check(run) {
      const since = run.comms.mark();
      const bad = await run.red.request('POST', '/goip/sms', { text: 'no number' });
      assert.equal(bad.status, 400, bad.body);
      assert.match(JSON.parse(bad.body).error, /no recipients/);

      const ok = await run.red.request('POST', '/goip/sms', { to: '+8613800138000', text: 'Hello 你好' });
      assert.equal(ok.status, 202, ok.body);
      assert.deepEqual(JSON.parse(ok.body), { queued: true });
      const result = await debugOf(run, 'result per recipient', since);
      assert.deepEqual([result.to, result.status], ['+8613800138000', 'sent']);
      await ledgerHas(run, 1);
      assert.deepEqual(
        run.fleet.ledger.sent.map((sms) => [sms.number, sms.text]),
        [['+8613800138000', 'Hello 你好']],
      );
    },
  },
  'migrate-from-vendor-dosend': {
    what: 'dosend.php by GET and POST sends on the provider group or the named line and answers per number; a bad login, Memo, provider or number is refused',
    async check(run) {
      const wrong = await dosend(run, 'GET', { PASSWORD: 'guess', smsnum: '+8613800138000', Memo: 'x' });
      assert.deepEqual([wrong.status, wrong.body], [401, 'ERROR: USERNAME or PASSWORD is wrong']);
      const long = await dosend(run, 'GET', { smsnum: '+8613800138000', Memo: 'x'.repeat(1401) });
      assert.deepEqual([long.status, long.body], [400, 'ERROR: Memo is over 1400 characters']);
      const provider = await dosend(run, 'GET', { smsprovider: '9', smsnum: '+8613800138000', Memo: 'x' });
      assert.deepEqual([provider.status, provider.body], [400, 'ERROR: smsprovider 9 is not mapped to a routing group']);
      const noProvider = await dosend(run, 'GET', { smsnum: '+8613800138000', Memo: 'x' });
      assert.deepEqual([noProvider.status, noProvider.body], [400, 'ERROR: smsprovider is missing']);
      const badNumber = await dosend(run, 'POST', { smsprovider: '1', smsnum: '+8613800138000,call-me', Memo: 'x' });
      assert.equal(badNumber.status, 400);
      assert.match(badNumber.body, /^ERROR: goip-send: "call-me" is not a phone number/);

      const byProvider = await dosend(run, 'GET', { smsprovider: '2', smsnum: '+8613800138000, +8613900139000', Memo: 'hello from a script' });
      assert.deepEqual([byProvider.status, byProvider.body], [200, 'Sending to +8613800138000: OK\nSending to +8613900139000: OK\n']);
      const byLine = await dosend(run, 'POST', { goipname: 'goip01', smsnum: '+8613700137000', Memo: 'posted 你好' });
      assert.deepEqual([byLine.status, byLine.body], [200, 'Sending to +8613700137000: OK\n']);
      await ledgerHas(run, 3);
      assert.deepEqual(
        run.fleet.ledger.sent.map((sms) => [sms.line, sms.number, sms.text]).sort(),
        [
          ['goip01', '+8613700137000', 'posted 你好'],
          ['goip02', '+8613800138000', 'hello from a script'],
          ['goip02', '+8613900139000', 'hello from a script'],
        ],
      );
    },
  },
  'bulk-send-csv-join': {
    what: 'the CSV batch is sent and joined into {sent: 3, failed: 0}',
    async check(run) {
      const since = run.comms.mark();
      await inject(run, 'CSV of recipients');
      const summary = await debugOf(run, 'batch summary', since);
      assert.deepEqual({ sent: summary.sent, failed: summary.failed }, { sent: 3, failed: 0 });
      await ledgerHas(run, 3);
      assert.deepEqual(run.fleet.ledger.sent.map((sms) => sms.number).sort(), ['+8613700137000', '+8613800138000', '+8613900139000']);
      assert.deepEqual(shown(run, 'why', since), [], 'no refused input');
    },
  },
  'ussd-balance-check': {
    what: 'the inject asks *100# and the balance shows',
    async check(run) {
      const since = run.comms.mark();
      await inject(run, 'every day 09:00 (or click)');
      assert.equal(await debugOf(run, 'balance', since), 12.34);
      assert.deepEqual(shown(run, 'failure reason', since), []);
    },
  },
  'call-forward': {
    what: 'forwarding on and off both answer true',
    async check(run) {
      for (const button of ['forward all calls', 'stop forwarding']) {
        const since = run.comms.mark();
        await inject(run, button);
        assert.equal(await debugOf(run, 'forwarding answer', since), true, button);
        assert.deepEqual(shown(run, 'failure reason', since), [], button);
      }
    },
  },
  'send-sms-and-get-number': {
    what: 'the SMS to two numbers is sent and the SIM number of goip01 shows',
    async check(run) {
      let since = run.comms.mark();
      await inject(run, 'SMS to two numbers');
      for (const to of ['+8613800138000', '+8613900139000']) {
        const msg = await debugOf(run, 'send result', since, (m) => m.payload?.to === to);
        assert.equal(msg.payload.status, 'sent', to);
      }
      await ledgerHas(run, 2);
      assert.deepEqual(run.fleet.ledger.sent.map((sms) => [sms.number, sms.text]).sort(), [
        ['+8613800138000', 'Hello from Node-RED'],
        ['+8613900139000', 'Hello from Node-RED'],
      ]);
      since = run.comms.mark();
      await inject(run, 'SIM number of goip01');
      assert.equal(await debugOf(run, 'SIM number', since), SIM_NUMBER);
      assert.deepEqual(shown(run, 'errors', run.since), []);
    },
  },
  'queue-status-and-cancel': {
    what: 'a scheduled batch shows in the queue status and a POST /goip/cancel cancels it: 2 cancelled results, nothing on the air',
    async check(run) {
      let since = run.comms.mark();
      await inject(run, 'Schedule a batch');
      await inject(run, 'Queue status');
      const status = await debugOf(run, 'queue status', since, (s) => s.queued === 2);
      assert.equal(status.batches.length, 1);
      const { batchId, priority, count } = status.batches[0];
      assert.match(batchId, /^newsletter-\d+$/);
      assert.deepEqual([priority, count], ['low', 2]);

      const unknown = await run.red.request('POST', '/goip/cancel', { batchId: 'no-such-batch' });
      assert.equal(unknown.status, 400, unknown.body);
      assert.match(JSON.parse(unknown.body).error, /no batch "no-such-batch"/);
      since = run.comms.mark();
      const cancelled = await run.red.request('POST', '/goip/cancel', { batchId });
      assert.equal(cancelled.status, 200, cancelled.body);
      assert.deepEqual(JSON.parse(cancelled.body), { batchId, cancelled: 2, inFlight: 0 });
      for (const to of ['+8613800138000', '+8613900139000']) {
        const result = await debugOf(run, 'results', since, (r) => r.to === to);
        assert.deepEqual([result.status, result.batchId], ['cancelled', batchId], to);
      }
      await inject(run, 'Queue status');
      const after = await debugOf(run, 'queue status', since);
      assert.deepEqual([after.queued, after.cancelled, after.batches], [0, 2, []]);
      assert.deepEqual(run.fleet.ledger.sent, [], 'nothing went on the air');
      assert.deepEqual(shown(run, 'why', run.since), []);
    },
  },
  'reboot-offline-line': {
    what: 'its goip-in shows both lines online (the 10-minute timer is not waited for)',
    async check(run) {
      const goipIn = nodeOf(run, 'goip-in').id;
      await run.comms.waitStatus(goipIn, (s) => /· 2\/2 lines$/.test(s.text ?? ''), WAIT_MS, () => `${run.name}: goip-in status`);
      assert.deepEqual(shown(run, 'rebooted', run.since), []);
      assert.deepEqual(shown(run, 'line offline', run.since), []);
    },
  },
};

/** The example with only what a user fills in: the goip-config port, bind, store and lines. */
let examplesCluster: PgCluster | null = null;
let examplesDatabases = 0;

/** A new database for an example on a shared store, on one throwaway cluster for the whole run. */
async function exampleDatabase(name: string): Promise<string> {
  const missing = postgresMissing();
  if (missing !== null) throw new Error(`${name} runs on PostgreSQL: ${missing}`);
  if (examplesCluster === null) {
    examplesCluster = await PgCluster.start();
    process.once('exit', () => examplesCluster?.stop());
  }
  return examplesCluster.createDatabase(`example_${++examplesDatabases}`);
}

async function userSetup(name: string, flow: FlowNode[], udpPort: number, store: string): Promise<FlowNode[]> {
  const configs = flow.filter((n) => n.type === 'goip-config');
  assert.equal(configs.length, 1, `${name}: one goip-config node`);
  const devices = devicesCredential(lineIds(LINES), PASSWORD);
  const connectionString = configs[0].database === 'postgres' ? await exampleDatabase(name) : undefined;
  const credentials = connectionString === undefined ? { devices } : { devices, connectionString };
  const nodes = flow.map((n) => (n.type === 'goip-config' ? { ...n, bind: '127.0.0.1', port: udpPort, store, credentials } : n));
  if (name === 'receive-sms-to-mqtt') {
    // Test probe (see its check): an observer beside the example's nodes, none of them changed.
    const change = nodes.find((n) => n.type === 'change');
    assert.ok(change, `${name}: a change node`);
    nodes.push(
      { id: 'test0probe0cmpl', type: 'complete', z: change.z, name: 'test probe', scope: [change.id], uncaught: false, x: 370, y: 300, wires: [['test0probe0dbg']] },
      { id: 'test0probe0dbg', type: 'debug', z: change.z, name: 'test probe', active: true, tosidebar: true, console: false, tostatus: false, complete: 'true', targetType: 'full', x: 600, y: 300, wires: [] },
    );
  }
  return nodes;
}


/** The node types Node-RED has registered and enabled. */
export async function registeredNodeTypes(red: NodeRedProcess): Promise<Set<string>> {
  const res = await red.request('GET', '/nodes', undefined, { Accept: 'application/json' });
  assert.equal(res.status, 200, res.body);
  const sets = JSON.parse(res.body) as Array<{ types: string[]; enabled: boolean }>;
  return new Set(sets.filter((set) => set.enabled).flatMap((set) => set.types));
}

/** The example names the editor's library lists for this package. */
export async function listedExamples(red: NodeRedProcess): Promise<string[]> {
  const res = await red.request('GET', `/library/examples/flows/${PACKAGE}`);
  assert.equal(res.status, 200, res.body);
  return (JSON.parse(res.body) as Array<{ fn?: string }>).map((entry) => String(entry.fn)).sort();
}

/**
 * Fetches example `name` from the editor's library, deploys it set up for simulated lines, drives
 * and checks it (its behaviour check, then: no node error, no red status, Node-RED still running).
 * Returns the warnings logged meanwhile.
 */
export async function runExample(red: NodeRedProcess, comms: NodeRedComms, name: string): Promise<string[]> {
  // Fetched as the editor's Import > Examples does.
  const res = await red.request('GET', `/library/examples/flows/${PACKAGE}/${name}`);
  assert.equal(res.status, 200, `GET example ${name}: ${res.status} ${res.body}`);
  const example = JSON.parse(res.body) as FlowNode[];
  assert.deepEqual(example, JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, `${name}.json`), 'utf8')), 'served as in examples/');
  const registeredTypes = await registeredNodeTypes(red);
  const missing = [...new Set(example.map((n) => String(n.type)))].filter((type) => !STRUCTURAL_TYPES.has(type) && !registeredTypes.has(type));
  assert.deepEqual(missing, [], `${name}: node types Node-RED does not know`);

  const udpPort = await freeUdpPort();
  const store = path.join(red.userDir, `${name}.sqlite`);
  const flow = await userSetup(name, example, udpPort, store);
  const since = comms.mark();
  // POST /flows (full) must answer 204/200, then the flows must report started.
  await comms.deploy(red, flow);

  const fleet: SimFleet = await startLines({
    count: LINES,
    idPrefix: 'goip',
    password: PASSWORD,
    server: { host: '127.0.0.1', port: udpPort },
    keepaliveIntervalMs: 200,
    smsRadioTimeMs: 10,
    ussdDelayMs: 10,
    num: SIM_NUMBER,
  });
  try {
    await fleet.waitRegistered(WAIT_MS);
    await behaviour[name]?.check({ name, flow, red, comms, fleet, since });
  } finally {
    await fleet.stop();
  }

  // No node in error: nothing logged at error level (errors a Catch node handles are not
  // logged) and no red status, except MQTT's (no broker here). Node-RED still runs.
  const errors = comms.logged(since, LOG_ERROR).map((m) => `${m.type ?? ''} ${m.name ?? m.id}: ${m.msg}`);
  assert.deepEqual(errors, [], `${name}: node errors`);
  const redStatuses = flow
    .filter((n) => !MAY_BE_RED.test(String(n.type)) && comms.statuses.get(n.id)?.fill === 'red')
    .map((n) => `${n.type} ${n.name || n.id}: ${comms.statuses.get(n.id)?.text}`);
  assert.deepEqual(redStatuses, [], `${name}: nodes with a red status`);
  assert.ok(red.running, `${name}: Node-RED stopped\n${red.output().slice(-2000)}`);
  return comms.logged(since, LOG_WARN).map((m) => `${m.type ?? ''} ${m.name ?? m.id}: ${m.msg}`);
}

/** The Node-RED of a suite and its comms socket, set by liveNodeRed's before() hook. */
export interface LiveNodeRed {
  red: NodeRedProcess | null;
  comms: NodeRedComms | null;
}

/**
 * Hooks of a suite that drives one real Node-RED: before() runs `start` (which may skip the suite)
 * and connects to its comms; after() closes both.
 */
export function liveNodeRed(start: (context: Mocha.Context) => Promise<NodeRedProcess>): LiveNodeRed {
  const live: LiveNodeRed = { red: null, comms: null };
  before(async function () {
    live.red = await start(this);
    live.comms = await NodeRedComms.connect(live.red.port);
  });
  after(async () => {
    await live.comms?.close();
    live.comms = null;
    await live.red?.cleanup();
    live.red = null;
  });
  return live;
}
