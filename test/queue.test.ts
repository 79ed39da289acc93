/**
 * The operator's send queue (issue #11) end to end: a real Node-RED child process with goip-send,
 * goip-queue and goip-in, simulated GoIP lines in this process, results and events posted to an
 * HTTP sink here. Priority, sendAt, expiry with every line offline, cancel mid-batch, opt-out by
 * STOP, and all of it across a kill -9 and restart.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { Ledger, type SimFleet, lineIds, startLines } from '../src/sim';
import { devicesCredential, goipConfigNode } from './helpers/flows';
import { HttpSink } from './helpers/http-sink';
import { freeUdpPort, NodeRedProcess } from './helpers/node-red-process';
import { RUNTIMES, skipUnavailable } from './helpers/runtimes';

const LINES = 2;
const PASSWORD = 'queue-secret';
/** Bound on one expected outcome (normally well under a second). */
const WAIT_MS = 20_000;
const TEXT = 'queue test 队列';
/** The runtime of the suite: once is enough for the queue's own logic. */
const runtime = RUNTIMES[0];

interface Result {
  result: { messageId: string; to: string; status: string; batchId: string; line: string | null };
  parts: { id: string; index: number; count: number };
}

/** Copies the POSTed body's fields onto msg, as a flow would. */
const SEND_FIELDS = `
const body = msg.payload;
for (const key of ['to', 'priority', 'sendAt', 'validity', 'expiresAt', 'batchId']) if (body[key] !== undefined) msg[key] = body[key];
msg.payload = body.text;
return msg;`;
const QUEUE_FIELDS = `
const body = msg.payload;
for (const key of ['action', 'batchId', 'messageId']) if (body[key] !== undefined) msg[key] = body[key];
msg.payload = body.numbers;
return msg;`;

function queueFlow(udpPort: number, store: string, sink: HttpSink): unknown[] {
  const post = (id: string, url: string, wires: string[] = []): Record<string, unknown> => ({
    id, type: 'http request', z: 'tab', method: 'POST', ret: 'txt', paytoqs: 'ignore', url, tls: '', persist: false, proxy: '',
    insecureHTTPParser: false, authType: '', senderr: false, headers: [], wires: [wires],
  });
  const respond = (id: string, statusCode: string): Record<string, unknown> => ({ id, type: 'http response', z: 'tab', statusCode, headers: {}, wires: [] });
  const nodes: Array<Record<string, unknown>> = [
    { id: 'tab', type: 'tab', label: 'queue' },
    goipConfigNode({ id: 'cfg', port: udpPort, store, stepTimeout: 0.2, offlineAfter: 1, credentials: { devices: devicesCredential(lineIds(LINES), PASSWORD) } }),
    // POST /send {to, text, priority, sendAt, validity, expiresAt, batchId}: 200 once stored, 400 with the reason.
    { id: 'sendIn', type: 'http in', z: 'tab', url: '/send', method: 'post', upload: false, swaggerDoc: '', wires: [['sendFields']] },
    { id: 'sendFields', type: 'function', z: 'tab', func: SEND_FIELDS, outputs: 1, libs: [], wires: [['send']] },
    { id: 'send', type: 'goip-send', z: 'tab', server: 'cfg', line: '', to: '', toType: 'str', text: '', textType: 'str', country: 'CN', numberFormat: 'e164', wires: [['result']] },
    { id: 'result', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: '{"result": payload, "parts": parts}', tot: 'jsonata' }], wires: [['postResult']] },
    post('postResult', sink.url('/result')),
    { id: 'stored', type: 'complete', z: 'tab', scope: ['send'], uncaught: false, wires: [['ok']] },
    respond('ok', '200'),
    { id: 'refused', type: 'catch', z: 'tab', scope: ['send', 'queue'], uncaught: false, wires: [['reason']] },
    { id: 'reason', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'error.message', tot: 'msg' }], wires: [['bad']] },
    respond('bad', '400'),
    // POST /queue {action, batchId, messageId, numbers}: the goip-queue answer.
    { id: 'queueIn', type: 'http in', z: 'tab', url: '/queue', method: 'post', upload: false, swaggerDoc: '', wires: [['queueFields']] },
    { id: 'queueFields', type: 'function', z: 'tab', func: QUEUE_FIELDS, outputs: 1, libs: [], wires: [['queue']] },
    { id: 'queue', type: 'goip-queue', z: 'tab', server: 'cfg', action: '', country: 'CN', wires: [['answer']] },
    respond('answer', '200'),
    // optout / optin events of goip-in, and offline ones (to know when the lines are away).
    { id: 'optIn', type: 'goip-in', z: 'tab', server: 'cfg', events: 'optout,optin,offline', line: '', wires: [['event']] },
    { id: 'event', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: '{"event": event, "payload": payload}', tot: 'jsonata' }], wires: [['postEvent']] },
    post('postEvent', sink.url('/event')),
  ];
  return nodes.map((n, i) => (n.z === undefined ? n : { x: 120 + 160 * (i % 4), y: 60 * (1 + Math.floor(i / 4)), ...n }));
}

describe(`queue: priority, schedule, expiry, cancel and opt-out in a real Node-RED (${runtime.name})`, function () {
  this.timeout(120_000);

  let red: NodeRedProcess | null = null;
  let fleet: SimFleet | null = null;
  const sink = new HttpSink();
  const ledger = new Ledger();
  let udpPort = 0;

  before(async function () {
    skipUnavailable(this, runtime);
    await sink.start();
    red = await NodeRedProcess.start({ runtime });
    udpPort = await freeUdpPort();
    await red.deploy(queueFlow(udpPort, path.join(red.userDir, 'queue.sqlite'), sink));
    await startFleet();
  });

  after(async () => {
    await red?.cleanup();
    await fleet?.stop();
    await sink.stop();
  });

  async function startFleet(): Promise<void> {
    fleet = await startLines({ count: LINES, idPrefix: 'goip', password: PASSWORD, server: { host: '127.0.0.1', port: udpPort }, keepaliveIntervalMs: 200, smsRadioTimeMs: 30, ledger });
    await fleet.waitRegistered(WAIT_MS);
  }

  /** Stops the lines and waits until the server has seen every one go offline. */
  async function stopFleet(): Promise<void> {
    const offlineBefore = events('offline').length;
    await fleet?.stop();
    fleet = null;
    await sink.waitFor('/event', () => events('offline').length >= offlineBefore + LINES, WAIT_MS, () => 'the lines were not reported offline');
  }

  function events(name: string): Array<{ event: string; payload: unknown }> {
    return (sink.received('/event') as Array<{ event: string; payload: unknown }>).filter((e) => e.event === name);
  }

  function node(): NodeRedProcess {
    assert.ok(red);
    return red;
  }

  async function send(body: Record<string, unknown>): Promise<void> {
    const answer = await node().request('POST', '/send', { text: TEXT, ...body });
    assert.equal(answer.status, 200, `POST /send ${JSON.stringify(body).slice(0, 200)}: ${answer.status} ${answer.body}`);
  }

  async function queue(body: Record<string, unknown>): Promise<any> {
    const answer = await node().request('POST', '/queue', body);
    assert.equal(answer.status, 200, `POST /queue ${JSON.stringify(body)}: ${answer.status} ${answer.body}`);
    return JSON.parse(answer.body);
  }

  function results(batchId: string): Result[] {
    return (sink.received('/result') as Result[]).filter((r) => r.result.batchId === batchId);
  }

  /** Waits for `count` results of the batch. */
  function resultsOf(batchId: string, count: number): Promise<Result[]> {
    return sink
      .waitFor('/result', () => results(batchId).length >= count, WAIT_MS, () => `${results(batchId).length}/${count} results of ${batchId}\n${node().output().slice(-2000)}`)
      .then(() => results(batchId));
  }

  function onAir(numbers: readonly string[]): number {
    return ledger.sent.filter((sms) => numbers.includes(sms.number)).length;
  }

  function waitOnAir(count: number): Promise<void> {
    if (ledger.sent.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${ledger.sent.length}/${count} SMS on the air`)), WAIT_MS);
      const onSent = (): void => {
        if (ledger.sent.length < count) return;
        clearTimeout(timer);
        ledger.off('sent', onSent);
        resolve();
      };
      ledger.on('sent', onSent);
    });
  }

  const numbers = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `+86${prefix}${String(i).padStart(11 - prefix.length, '0')}`);

  it('sends high priority in the next radio slots ahead of 200 queued normal, and a cancel mid-batch stops the rest with one result each', async () => {
    const bulk = numbers('1390', 200);
    const urgent = numbers('1370', 3);
    await send({ to: bulk, batchId: 'bulk' });
    await waitOnAir(10);
    const before = ledger.sent.length;
    await send({ to: urgent, batchId: 'urgent', priority: 'high' });
    await resultsOf('urgent', 3);
    const positions = urgent.map((number) => ledger.sent.findIndex((sms) => sms.number === number) - before);
    // Ahead of them at most what each line's sessions had on its radio (2 per line) and what
    // left while the POST was on its way; in enqueue order they would be behind ~190 more.
    assert.ok(Math.max(...positions) < 4 * LINES + 3, `high-priority numbers went out at ${positions} after their submission`);
    if (process.env.GOIP_TEST_VERBOSE === '1') console.log(`      high priority on the air at positions ${positions} after the submission (${before} sent before)`);
    assert.ok(results('urgent').every((r) => r.result.status === 'sent'));

    const answer = await queue({ action: 'cancel', batchId: 'bulk' });
    const onAirAtAnswer = onAir(bulk);
    assert.ok(answer.cancelled > 0, `cancelled mid-batch: ${JSON.stringify(answer)}`);
    assert.deepEqual(Object.keys(answer).sort(), ['batchId', 'cancelled', 'inFlight']);
    const all = await resultsOf('bulk', 200);
    assert.equal(new Set(all.map((r) => r.result.messageId)).size, 200, 'one result per recipient');
    assert.deepEqual(all.map((r) => r.parts.index).sort((a, b) => a - b), [...Array(200).keys()]);
    const cancelled = all.filter((r) => r.result.status === 'cancelled');
    const sent = all.filter((r) => r.result.status === 'sent');
    assert.equal(cancelled.length, answer.cancelled);
    assert.equal(cancelled.length + sent.length, 200);
    assert.ok(onAir(bulk) <= onAirAtAnswer + answer.inFlight, `on the air ${onAir(bulk)} after the cancel answered ${onAirAtAnswer} + ${answer.inFlight} in flight`);
    assert.equal(onAir(bulk), sent.length, 'every sent one once, no cancelled one on the air');
    const status = await queue({ action: 'status', batchId: 'bulk' });
    assert.deepEqual([status.queued, status.claimed, status.sent, status.cancelled], [0, 0, sent.length, cancelled.length]);
  });

  it('sends nothing before sendAt and goes within a second of it', async () => {
    const sendAt = Date.now() + 2000;
    await send({ to: '+8613600000001', batchId: 'scheduled', sendAt: new Date(sendAt).toISOString() });
    const [result] = await resultsOf('scheduled', 1);
    assert.equal(result.result.status, 'sent');
    const sms = ledger.sent.find((s) => s.number === '+8613600000001');
    assert.ok(sms !== undefined && sms.at >= sendAt && sms.at < sendAt + 1000, `sent at ${sms && sms.at - sendAt} ms after sendAt`);
  });

  it('blocks a number that sent STOP: goip-in tells optout and a later send to it ends blocked without going on the air', async () => {
    const number = '+8613500000001';
    const received = await fleet?.line('goip02')?.receiveSms(number, '  stop ');
    assert.ok(received?.acked);
    await sink.waitFor('/event', () => events('optout').length > 0, WAIT_MS, () => 'no optout event');
    assert.deepEqual(events('optout'), [{ event: 'optout', payload: { number, keyword: 'STOP', line: 'goip02' } }]);
    await send({ to: number, batchId: 'toBlocked' });
    const [result] = await resultsOf('toBlocked', 1);
    assert.deepEqual([result.result.status, result.result.line], ['blocked', null]);
    assert.equal(onAir([number]), 0);
    assert.deepEqual(
      (await queue({ action: 'blocked' })).map((b: { number: string; keyword: string }) => [b.number, b.keyword]),
      [[number, 'STOP']],
    );
  });

  it('keeps expiry, schedule and the block list across a kill -9: expired with every line offline, nothing of it on the air when they return', async () => {
    await stopFleet();
    const expiring = '+8613400000001';
    const later = '+8613400000002';
    await send({ to: expiring, batchId: 'expiring', validity: 2 });
    const sendAt = Date.now() + 9000;
    await send({ to: later, batchId: 'later', sendAt, priority: 'high' });
    const exit = await node().kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    await node().start();

    // The lines are still away: the expiring one ends expired, out of the goip-send that queued it.
    const [expired] = await resultsOf('expiring', 1);
    assert.deepEqual([expired.result.status, expired.result.to], ['expired', expiring]);
    await startFleet();
    const [sent] = await resultsOf('later', 1);
    assert.equal(sent.result.status, 'sent');
    const sms = ledger.sent.find((s) => s.number === later);
    assert.ok(sms !== undefined && sms.at >= sendAt, 'sendAt honoured after the restart');
    assert.equal(onAir([expiring]), 0, 'the expired one never went on the air');

    await send({ to: '+8613500000001', batchId: 'stillBlocked' });
    const [blocked] = await resultsOf('stillBlocked', 1);
    assert.equal(blocked.result.status, 'blocked', 'the block list survived the kill');
  });

  it('fails bad queue input with the reason and stores nothing', async () => {
    for (const [body, reason] of [
      [{ to: '+8613300000001', priority: 'urgent' }, /msg.priority must be high, normal, low/],
      [{ to: '+8613300000001', sendAt: 'tomorrow' }, /msg.sendAt must be a Date/],
      [{ to: '+8613300000001', validity: -5 }, /msg.validity must be a number of seconds above 0/],
      [{ to: '+8613300000001', validity: 5, expiresAt: Date.now() + 10_000 }, /not both/],
      [{ to: '+8613300000001', batchId: 'bulk' }, /batchId "bulk" is already in the queue/],
    ] as const) {
      const answer = await node().request('POST', '/send', { text: TEXT, ...body });
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.status} ${answer.body}`);
      assert.match(answer.body, reason);
    }
    for (const [body, reason] of [
      [{ action: 'explode' }, /unknown action "explode"/],
      [{ action: 'cancel' }, /cancel needs msg.batchId or msg.messageId/],
      [{ action: 'retry', batchId: 'nope' }, /no batch "nope" in the queue/],
      [{ action: 'block', numbers: 'not-a-number' }, /"not-a-number" is not a phone number/],
    ] as const) {
      const answer = await node().request('POST', '/queue', body);
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.status} ${answer.body}`);
      assert.match(answer.body, reason);
    }
    assert.equal((await queue({ action: 'status' })).queued, 0);
    assert.equal(onAir(['+8613300000001']), 0);
  });
});
