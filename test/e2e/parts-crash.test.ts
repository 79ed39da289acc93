/**
 * A kill -9 of a real Node-RED between the parts of a long SMS loses none of them: two 153-character
 * parts arrive (each acked, so the GoIP will not send them again) and are held in the store; Node-RED
 * is killed with SIGKILL and restarted on the same user directory; the third part then completes
 * the message, which reaches the flow once, whole, with msg.goip.parts = 3.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { type SimFleet, startLines } from '../../src/sim';
import { type DebugMessage, debugValue, NodeRedComms } from '../helpers/comms';
import { devicesCredential, goipConfigNode } from '../helpers/flows';
import { freeUdpPort, NodeRedProcess } from '../helpers/node-red-process';
import { RUNTIMES, skipUnavailable } from '../helpers/runtimes';
import { GSM_PARTS } from '../helpers/long-sms';

const Database = require('better-sqlite3');

const PASSWORD = 'parts-secret';
const SENDER = '+8613800138000';
const LAST_PART = 'and that is the end.';
const ID = { tab: 'd1e2f3a4b5c60001', config: 'd1e2f3a4b5c60002', in: 'd1e2f3a4b5c60003', debug: 'd1e2f3a4b5c60004' };

function partsFlow(udpPort: number, store: string): unknown[] {
  return [
    { id: ID.tab, type: 'tab', label: 'long sms' },
    goipConfigNode({ id: ID.config, port: udpPort, store, joinParts: true, joinWindow: 60, credentials: { devices: devicesCredential(['goip01'], PASSWORD) } }),
    { id: ID.in, type: 'goip-in', z: ID.tab, name: '', server: ID.config, events: 'sms', line: '', x: 150, y: 80, wires: [[ID.debug]] },
    { id: ID.debug, type: 'debug', z: ID.tab, name: 'sms', active: true, tosidebar: true, console: false, tostatus: false, complete: 'true', targetType: 'full', x: 350, y: 80, wires: [] },
  ];
}

function heldParts(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM held_parts').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const isSms = (m: DebugMessage): boolean => m.id === ID.debug;

for (const runtime of RUNTIMES) describe(`long SMS: kill -9 of Node-RED between parts (${runtime.name})`, function () {
  this.timeout(90_000);

  let red: NodeRedProcess | null = null;
  let comms: NodeRedComms | null = null;
  let fleet: SimFleet | null = null;

  before(function () {
    skipUnavailable(this, runtime);
  });

  afterEach(async () => {
    await comms?.close();
    comms = null;
    await fleet?.stop();
    fleet = null;
    await red?.cleanup();
    red = null;
  });

  async function listeningComms(node: NodeRedProcess): Promise<NodeRedComms> {
    const connection = await NodeRedComms.connect(node.port);
    await connection.waitStatus(ID.in, (s) => /listening/.test(s.text ?? ''), 30_000, () => 'goip-in never showed listening');
    return connection;
  }

  it('holds the parts in the store and joins them after the restart', async () => {
    red = await NodeRedProcess.start({ runtime });
    const node = red;
    const store = path.join(node.userDir, 'outbox.sqlite');
    const udpPort = await freeUdpPort();
    await node.deploy(partsFlow(udpPort, store));
    comms = await listeningComms(node);
    fleet = await startLines({ count: 1, password: PASSWORD, server: { host: '127.0.0.1', port: udpPort }, keepaliveIntervalMs: 500 });
    await fleet.waitRegistered(15_000);
    const line = fleet.lines[0];

    for (const part of GSM_PARTS.slice(0, 2)) assert.equal((await line.receiveSms(SENDER, part)).acked, true);
    // The ack leaves after the part's commit: both are in the file now.
    assert.equal(heldParts(store), 2);
    assert.deepEqual(comms.debug.filter(isSms), [], 'nothing reached the flow yet');

    assert.equal((await node.kill('SIGKILL')).signal, 'SIGKILL');
    await comms.close();
    assert.equal(heldParts(store), 2, 'the held parts outlived the kill');
    await node.start();
    comms = await listeningComms(node);

    assert.equal((await line.receiveSms(SENDER, LAST_PART)).acked, true);
    const message = await comms.waitDebug(isSms, 0, 20_000, () => `no sms after the restart\n${node.output().slice(-2000)}`);
    const msg = debugValue(message) as Record<string, any>;
    assert.equal(msg.payload, `${GSM_PARTS[0]}${GSM_PARTS[1]}${LAST_PART}`);
    assert.equal(msg.from, SENDER);
    assert.equal(msg.topic, 'goip/goip01/sms');
    assert.equal(msg.goip.parts, 3);
    assert.equal(msg.goip.reportIds.length, 3);
    assert.equal(JSON.stringify(msg).includes(PASSWORD), false, 'no password in the msg');
    assert.equal(heldParts(store), 0, 'the joined parts left the store');
    assert.equal(comms.debug.filter(isSms).length, 1, 'one message, once');
  });
});
