/** Node-RED test-helper plumbing shared by the node tests: the loaded nodes, a base flow, waits. */
import assert from 'node:assert/strict';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import { type FleetOptions, type SimFleet, startLines } from '../../src/sim';
import { NODE_TYPES, withCatalog } from './catalog';
import { goipConfigNode } from './flows';

export { helper };

helper.init(require.resolve('node-red'));

const ROOT = path.resolve(__dirname, '..', '..', '..');
const coreNodes = ['common/25-catch', 'common/25-status', 'common/24-complete', 'sequence/17-split'].map((file) => require(`@node-red/nodes/core/${file}.js`));
/** The core nodes and ours, whose RED._ renders the `lang` catalogs (see withCatalog). */
export function nodesIn(lang: string): unknown[] {
  return [...coreNodes, ...NODE_TYPES.map((type) => withCatalog(require(path.join(ROOT, 'dist', 'nodes', `${type}.js`)), type, lang))];
}
/** What the node tests load: statuses and errors read as users see them in English. */
export const nodes = nodesIn('en-US');
export const DEVICES = JSON.stringify([
  { id: 'goip01', password: 'secret' },
  { id: 'goip02', password: 'other' },
]);

export type Msg = Record<string, any>;

interface Emitter {
  on(event: string, listener: (value: Msg) => void): unknown;
  removeListener(event: string, listener: (value: Msg) => void): unknown;
}

/** Resolves with the next `event` of `emitter` that `match` accepts. */
function nextMatching(emitter: Emitter, event: string, match: (value: Msg) => boolean): Promise<Msg> {
  return new Promise((resolve) => {
    const listener = (value: Msg): void => {
      if (!match(value)) return;
      emitter.removeListener(event, listener);
      resolve(value);
    };
    emitter.on(event, listener);
  });
}

/** Resolves with the next message a node sends that `match` accepts. */
export function nextInput(nodeId: string, match: (msg: Msg) => boolean = () => true): Promise<Msg> {
  return nextMatching(helper.getNode(nodeId), 'input', match);
}

export function flow(configExtra: Record<string, unknown> = {}, inExtra: Record<string, unknown> = {}): Msg[] {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    goipConfigNode({ id: 'cfg', port: 0, store: ':memory:', ...configExtra }),
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
  return nextMatching(cfg, 'goip:status', match);
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

/**
 * The mocha hooks of a node suite against simulated lines: the helper's server for the suite, and
 * after each test the fleet `lines(port)` started (startTestLines with `simOptions`) stopped and
 * the flow unloaded.
 */
export function suiteWithTestLines(simOptions: Partial<FleetOptions>): { lines(port: number): Promise<SimFleet> } {
  let fleet: SimFleet | null = null;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    await fleet?.stop();
    fleet = null;
    await helper.unload();
  });
  return {
    async lines(port) {
      fleet = await startTestLines(port, simOptions);
      return fleet;
    },
  };
}
