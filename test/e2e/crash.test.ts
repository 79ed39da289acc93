/**
 * Crash safety end to end: a real Node-RED child process sends a 1,000-recipient batch through
 * simulated GoIP lines (in this process), is killed with SIGKILL in the middle, and restarts on the
 * same user directory, store and UDP port. Every recipient must go out; a duplicate is allowed only
 * for a number a line's radio was sending at the kill (at most one per line).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { type SentSms, type SimFleet, lineIds, startLines } from '../../src/sim';
import { devicesCredential, goipConfigNode } from '../helpers/flows';
import { HttpSink } from '../helpers/http-sink';
import { type ExitInfo, freeUdpPort, NodeRedProcess } from '../helpers/node-red-process';
import { RUNTIMES, skipUnavailable } from '../helpers/runtimes';
import { until } from '../helpers/until';

/** The raw driver, to read the store file after Node-RED has stopped. */
const Database = require('better-sqlite3');

const LINES = 4;
const PASSWORD = 'crash-secret';
const BATCH_SIZE = 1000;
/** Kill once this many distinct numbers went over the air (~30 %). */
const KILL_AFTER = 300;
const TEXT = 'crash test 崩溃测试';
/** Bound on the batch finishing after the restart (normally a few seconds). */
const FINISH_TIMEOUT_MS = 60_000;
const verbose = process.env.GOIP_TEST_VERBOSE === '1';

function numbers(): string[] {
  return Array.from({ length: BATCH_SIZE }, (_, i) => `+86139${String(i).padStart(8, '0')}`);
}

function crashFlow(udpPort: number, store: string, statusUrl: string): unknown[] {
  const nodes: Array<Record<string, unknown>> = [
    { id: 'tab', type: 'tab', label: 'crash' },
    goipConfigNode({ id: 'cfg', port: udpPort, store, stepTimeout: 0.2, credentials: { devices: devicesCredential(lineIds(LINES), PASSWORD) } }),
    { id: 'in', type: 'http in', z: 'tab', name: '', url: '/send', method: 'post', upload: false, swaggerDoc: '', wires: [['send']] },
    { id: 'send', type: 'goip-send', z: 'tab', server: 'cfg', line: '', to: '', toType: 'str', text: '', textType: 'str', country: 'CN', numberFormat: 'e164', wires: [[]] },
    // The input is answered once goip-send has stored every recipient (its done()) ...
    { id: 'stored', type: 'complete', z: 'tab', scope: ['send'], uncaught: false, wires: [['ok']] },
    { id: 'ok', type: 'http response', z: 'tab', statusCode: '200', headers: {}, wires: [] },
    // ... or fails with its reason.
    { id: 'failed', type: 'catch', z: 'tab', scope: ['send'], uncaught: false, wires: [['error']] },
    { id: 'error', type: 'http response', z: 'tab', statusCode: '500', headers: {}, wires: [] },
    // goip-send's status (`queue N · sending M`, then `idle`) goes to the test.
    { id: 'status', type: 'status', z: 'tab', scope: ['send'], wires: [['toPayload']] },
    {
      id: 'toPayload',
      type: 'change',
      z: 'tab',
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'status', tot: 'msg' }],
      action: '',
      property: '',
      from: '',
      to: '',
      reg: false,
      wires: [['report']],
    },
    {
      id: 'report',
      type: 'http request',
      z: 'tab',
      method: 'POST',
      ret: 'txt',
      paytoqs: 'ignore',
      url: statusUrl,
      tls: '',
      persist: false,
      proxy: '',
      insecureHTTPParser: false,
      authType: '',
      senderr: false,
      headers: [],
      wires: [[]],
    },
  ];
  // Flow nodes need a position: Node-RED takes a node without x/y for a config node.
  return nodes.map((n, i) => (n.z === undefined ? n : { x: 100 + 150 * (i % 4), y: 60 * (1 + Math.floor(i / 4)), ...n }));
}

interface StatusReport {
  fill?: string;
  shape?: string;
  text?: string;
}

function storeStates(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT state, count(*) AS n FROM recipients GROUP BY state').all() as Array<{ state: string; n: number }>;
    return Object.fromEntries(rows.map((row) => [row.state, row.n]));
  } finally {
    db.close();
  }
}

for (const runtime of RUNTIMES) describe(`crash: kill -9 of Node-RED in the middle of a 1,000-recipient batch (${runtime.name})`, function () {
  this.timeout(90_000);

  before(function () {
    skipUnavailable(this, runtime);
  });

  let red: NodeRedProcess | null = null;
  let fleet: SimFleet | null = null;
  let sink: HttpSink | null = null;

  afterEach(async () => {
    await red?.cleanup();
    red = null;
    await fleet?.stop();
    fleet = null;
    await sink?.stop();
    sink = null;
  });

  it('sends every remaining recipient after a restart, with at most one duplicate per line that was mid-send', async function () {
    const t0 = Date.now();
    sink = new HttpSink();
    await sink.start();
    const statusUrl = sink.url('/status');
    const statuses = (): StatusReport[] => (sink?.received('/status') ?? []) as StatusReport[];
    red = await NodeRedProcess.start({ runtime });
    const node = red;
    const store = path.join(node.userDir, 'outbox.sqlite');
    const udpPort = await freeUdpPort();
    await node.deploy(crashFlow(udpPort, store, statusUrl));

    fleet = await startLines({
      count: LINES,
      idPrefix: 'goip',
      password: PASSWORD,
      server: { host: '127.0.0.1', port: udpPort },
      keepaliveIntervalMs: 200,
      smsRadioTimeMs: 8,
    });
    const sims = fleet;
    await sims.waitRegistered(20_000);

    const batch = numbers();
    const wanted = new Set(batch);
    const distinct = new Set<string>();
    const crash: { exited?: Promise<ExitInfo>; at?: { sent: number; distinct: number; midSendLines: number } } = {};
    const onSent = (sms: SentSms): void => {
      distinct.add(sms.number);
      if (crash.exited !== undefined || distinct.size < KILL_AFTER) return;
      // The kill is sent right here, synchronously, while the lines are busy.
      crash.at = { sent: sims.ledger.sent.length, distinct: distinct.size, midSendLines: sims.lines.filter((l) => l.radioBacklog > 0).length };
      crash.exited = node.kill('SIGKILL');
    };
    sims.ledger.on('sent', onSent);

    const tSubmit = Date.now();
    const answer = await node.request('POST', '/send', { to: batch, text: TEXT });
    assert.equal(answer.status, 200, `POST /send answered ${answer.status}: ${answer.body}\n${node.output().slice(-2000)}`);
    await until(() => crash.exited !== undefined, [[sims.ledger, 'sent']], FINISH_TIMEOUT_MS, () => `only ${distinct.size} numbers sent, no kill`);
    const exit = await crash.exited;
    assert.equal(exit?.signal, 'SIGKILL');
    const afterKill = { sent: sims.ledger.sent.length, distinct: distinct.size };
    assert.ok(afterKill.distinct < BATCH_SIZE, 'the kill landed before the batch was done');
    // What the dead process left in the store: numbers still queued and numbers claimed mid-send,
    // which the restart must resume (same line, sendid, telid).
    const atKill = storeStates(store);
    assert.ok((atKill.queued ?? 0) > 0 && (atKill.claimed ?? 0) > 0, `queued and claimed numbers left at the kill: ${JSON.stringify(atKill)}`);

    // Restart on the same user directory: flows.json, flows_cred.json, the store and the UDP port.
    const seenBefore = statuses().length;
    const tRestart = Date.now();
    await node.start();
    const restartMs = Date.now() - tRestart;
    const idleAfterRestart = (): boolean => statuses().slice(seenBefore).some((s) => s.text === 'idle');
    await until(
      () => distinct.size === BATCH_SIZE && idleAfterRestart(),
      [
        [sims.ledger, 'sent'],
        [sink, 'post'],
      ],
      FINISH_TIMEOUT_MS,
      () =>
        `after the restart: ${distinct.size}/${BATCH_SIZE} numbers sent, goip-send status ${JSON.stringify(statuses().at(-1))}\n` +
        node.output().slice(-3000),
    );
    const tDone = Date.now();

    // Every number at least once, nothing else, duplicates only for numbers on a radio at the kill.
    const times = new Map<string, number>();
    for (const sms of sims.ledger.sent) times.set(sms.number, (times.get(sms.number) ?? 0) + 1);
    const missing = batch.filter((n) => (times.get(n) ?? 0) === 0);
    assert.deepEqual(missing, [], 'numbers never sent');
    assert.deepEqual([...times.keys()].filter((n) => !wanted.has(n)), [], 'numbers sent that were not in the batch');
    assert.ok(sims.ledger.sent.every((sms) => sms.text === TEXT), 'every SMS carries the text');
    const duplicates = sims.ledger.duplicates();
    assert.ok(
      duplicates.every((d) => d.count === 2),
      `a number went out more than twice: ${JSON.stringify(duplicates.filter((d) => d.count > 2).map((d) => [d.number, d.count]))}`,
    );
    assert.ok(
      duplicates.length <= LINES,
      `${duplicates.length} duplicates for ${LINES} lines: ${JSON.stringify(duplicates.map((d) => d.sends.map((s) => [s.line, s.sendId, s.telId])))}`,
    );

    // The store holds no queued or claimed recipient: every one reached a final state, sent.
    const stopped = await node.kill('SIGTERM');
    assert.equal(stopped.code, 0, `Node-RED stopped with ${JSON.stringify(stopped)}\n${node.output().slice(-2000)}`);
    const states = storeStates(store);
    assert.deepEqual(states, { sent: BATCH_SIZE }, `store states ${JSON.stringify(states)}`);

    if (verbose) {
      console.log(
        `      crash: killed at ${JSON.stringify(crash.at)}, ${afterKill.distinct} numbers out when it exited, store ${JSON.stringify(atKill)}, restart ${restartMs} ms, ` +
          `batch ${tDone - tSubmit} ms, ${sims.ledger.sent.length} SMS, ${duplicates.length} duplicates, total ${Date.now() - t0} ms`,
      );
    }
  });
});
