/** Node-RED test-helper plumbing shared by the node tests: the loaded nodes, a base flow, waits. */
import assert from 'node:assert/strict';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import { type FleetOptions, type SimFleet, startLines } from '../../src/sim';

export { helper };

helper.init(require.resolve('node-red'));

const ROOT = path.resolve(__dirname, '..', '..', '..');
const coreNodes = ['common/25-catch', 'common/25-status', 'common/24-complete', 'sequence/17-split'].map((file) => require(`@node-red/nodes/core/${file}.js`));
export const nodes = [...coreNodes, ...['goip-config', 'goip-in', 'goip-send', 'goip-command'].map((type) => require(path.join(ROOT, 'dist', 'nodes', `${type}.js`)))];
export const DEVICES = JSON.stringify([
  { id: 'goip01', password: 'secret' },
  { id: 'goip02', password: 'other' },
]);

export type Msg = Record<string, any>;

/** Resolves with the next message a node sends that `match` accepts. */
export function nextInput(nodeId: string, match: (msg: Msg) => boolean = () => true): Promise<Msg> {
  const node = helper.getNode(nodeId);
  return new Promise((resolve) => {
    const listener = (msg: Msg): void => {
      if (!match(msg)) return;
      node.removeListener('input', listener);
      resolve(msg);
    };
    node.on('input', listener);
  });
}

export function flow(configExtra: Record<string, unknown> = {}, inExtra: Record<string, unknown> = {}): Msg[] {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'cfg', type: 'goip-config', name: 'gw', bind: '127.0.0.1', port: 0, ackStatus: '0', offlineAfter: 92, dedupWindow: 600, store: ':memory:', ...configExtra },
    { id: 'in1', type: 'goip-in', z: 'tab', server: 'cfg', events: '', line: '', wires: [['out']], ...inExtra },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'st1', type: 'status', z: 'tab', scope: ['in1'], wires: [['stOut']] },
    { id: 'stOut', type: 'helper', z: 'tab' },
    { id: 'catch1', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

export function listeningPort(): number {
  const address = (helper.getNode('cfg') as any).server?.address();
  assert.ok(address, 'server listening');
  return address.port;
}

/** Resolves when the config node's status satisfies `match` (it may already). */
export function configStatus(match: (status: Msg) => boolean): Promise<Msg> {
  const cfg = helper.getNode('cfg') as any;
  const now = cfg.statusText();
  if (match(now)) return Promise.resolve(now);
  return new Promise((resolve) => {
    const listener = (status: Msg): void => {
      if (!match(status)) return;
      cfg.removeListener('goip:status', listener);
      resolve(status);
    };
    cfg.on('goip:status', listener);
  });
}

/** Waits until the config node's socket is bound. */
export async function listening(): Promise<number> {
  await configStatus((s) => /listening|no lines/.test(s.text ?? ''));
  return listeningPort();
}

/** Two simulated lines with the credentials of DEVICES, registered with the server on `port`. */
export async function startTestLines(port: number, options: Partial<FleetOptions> = {}): Promise<SimFleet> {
  const fleet = await startLines({ count: 2, idPrefix: 'goip', passwords: ['secret', 'other'], server: { host: '127.0.0.1', port }, ...options });
  await fleet.waitRegistered();
  return fleet;
}
