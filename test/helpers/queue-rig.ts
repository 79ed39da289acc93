/**
 * The queue suites' rig: a real Node-RED child process with goip-send, goip-queue and
 * goip-in, simulated GoIP lines in this process sharing one ledger, results and events posted to
 * an HTTP sink here (it outlives a kill -9 of Node-RED, so it holds the results of both runs).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { Ledger, type SimFleet, lineIds, startLines } from '../../src/sim';
import { devicesCredential, goipConfigNode } from './flows';
import { HttpSink } from './http-sink';
import { freeUdpPort, NodeRedProcess } from './node-red-process';
import type { Runtime } from './runtimes';
import { until } from './until';

export const LINES = 2;
const PASSWORD = 'queue-secret';
/** Bound on one expected outcome (normally well under a second). */
export const WAIT_MS = 20_000;
export const TEXT = 'queue test 队列';

export interface Result {
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

function queueFlow(udpPort: number, store: string, sink: HttpSink, config: Record<string, unknown>): unknown[] {
  const post = (id: string, url: string, wires: string[] = []): Record<string, unknown> => ({
    id, type: 'http request', z: 'tab', method: 'POST', ret: 'txt', paytoqs: 'ignore', url, tls: '', persist: false, proxy: '',
    insecureHTTPParser: false, authType: '', senderr: false, headers: [], wires: [wires],
  });
  const respond = (id: string, statusCode: string): Record<string, unknown> => ({ id, type: 'http response', z: 'tab', statusCode, headers: {}, wires: [] });
  const nodes: Array<Record<string, unknown>> = [
    { id: 'tab', type: 'tab', label: 'queue' },
    goipConfigNode({ id: 'cfg', port: udpPort, store, stepTimeout: 0.2, offlineAfter: 1, ...config, credentials: { devices: devicesCredential(lineIds(LINES), PASSWORD) } }),
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

/** `count` distinct +86 numbers starting with `prefix`. */
export const numbers = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `+86${prefix}${String(i).padStart(11 - prefix.length, '0')}`);

export class QueueRig {
  readonly sink = new HttpSink();
  readonly ledger = new Ledger();
  fleet: SimFleet | null = null;
  private red: NodeRedProcess | null = null;
  private udpPort = 0;

  /** `config`: more goip-config properties (e.g. quietHours). */
  constructor(private readonly config: Record<string, unknown> = {}) {}

  /** Starts the sink and Node-RED, deploys the flow and starts the lines. */
  async start(runtime: Runtime): Promise<void> {
    await this.sink.start();
    this.red = await NodeRedProcess.start({ runtime });
    this.udpPort = await freeUdpPort();
    await this.red.deploy(queueFlow(this.udpPort, path.join(this.red.userDir, 'queue.sqlite'), this.sink, this.config));
    await this.startFleet();
  }

  async cleanup(): Promise<void> {
    await this.red?.cleanup();
    await this.fleet?.stop();
    await this.sink.stop();
  }

  node(): NodeRedProcess {
    assert.ok(this.red);
    return this.red;
  }

  async startFleet(): Promise<void> {
    this.fleet = await startLines({ count: LINES, idPrefix: 'goip', password: PASSWORD, server: { host: '127.0.0.1', port: this.udpPort }, keepaliveIntervalMs: 200, smsRadioTimeMs: 30, ledger: this.ledger });
    await this.fleet.waitRegistered(WAIT_MS);
  }

  /** Stops the lines and waits until the server has seen every one go offline. */
  async stopFleet(): Promise<void> {
    const offlineBefore = this.events('offline').length;
    await this.fleet?.stop();
    this.fleet = null;
    await this.sink.waitFor('/event', () => this.events('offline').length >= offlineBefore + LINES, WAIT_MS, () => 'the lines were not reported offline');
  }

  events(name: string): Array<{ event: string; payload: unknown }> {
    return (this.sink.received('/event') as Array<{ event: string; payload: unknown }>).filter((e) => e.event === name);
  }

  async send(body: Record<string, unknown>): Promise<void> {
    const answer = await this.node().request('POST', '/send', { text: TEXT, ...body });
    assert.equal(answer.status, 200, `POST /send ${JSON.stringify(body).slice(0, 200)}: ${answer.status} ${answer.body}`);
  }

  async queue(body: Record<string, unknown>): Promise<any> {
    const answer = await this.node().request('POST', '/queue', body);
    assert.equal(answer.status, 200, `POST /queue ${JSON.stringify(body)}: ${answer.status} ${answer.body}`);
    return JSON.parse(answer.body);
  }

  results(batchId: string): Result[] {
    return (this.sink.received('/result') as Result[]).filter((r) => r.result.batchId === batchId);
  }

  /** Waits for `count` results of the batch. */
  resultsOf(batchId: string, count: number): Promise<Result[]> {
    return this.sink
      .waitFor('/result', () => this.results(batchId).length >= count, WAIT_MS, () => `${this.results(batchId).length}/${count} results of ${batchId}\n${this.node().output().slice(-2000)}`)
      .then(() => this.results(batchId));
  }

  onAir(numbers: readonly string[]): number {
    return this.ledger.sent.filter((sms) => numbers.includes(sms.number)).length;
  }

  waitOnAir(count: number): Promise<void> {
    return until(() => this.ledger.sent.length >= count, [[this.ledger, 'sent']], WAIT_MS, () => `${this.ledger.sent.length}/${count} SMS on the air`);
  }
}
