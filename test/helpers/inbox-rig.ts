/**
 * What the inbox node tests share. node-red-node-test-helper hands the nodes no RED.hooks (a real
 * runtime does: the messaging hooks src/nodes/result-handover.ts follows to tell when the flow is
 * done with an inbox message), so our nodes get @node-red/util's hooks, the very ones the helper's
 * flows trigger. A `taker` node calls done for every message (a `helper` node never does) and tells
 * `takers` what it got, also during a deploy, before a test could attach a listener to it.
 */
import { EventEmitter } from 'node:events';
import { hooks } from '@node-red/util';
import { NODE_TYPES } from './catalog';
import { helper, type Msg, nextInput, nodes } from './red';

type NodeModule = (RED: any) => unknown;

const withHooks =
  (nodeModule: NodeModule): NodeModule =>
  (RED) =>
    nodeModule(Object.create(RED, { hooks: { value: hooks } }));

/** `input` (node id, msg) for every message a taker node gets, before it calls done. */
export const takers = new EventEmitter<{ input: [string, Msg] }>();

function takerNode(RED: any): void {
  RED.nodes.registerType('taker', function (this: any, def: Msg) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg: Msg, _send: unknown, done: () => void) => {
      takers.emit('input', def.id, msg);
      done();
    });
  });
}

const ours = nodes.length - NODE_TYPES.length;
/** The core nodes, ours with the runtime's messaging hooks, and the taker node type. */
export const hookedNodes: unknown[] = [...nodes.slice(0, ours), ...(nodes.slice(ours) as NodeModule[]).map(withHooks), takerNode];

/** Collects what the taker `id` gets from now on; `count(n)` resolves once it got n. */
export function collect(id: string): { msgs: Msg[]; count(n: number, timeoutMs?: number): Promise<Msg[]>; stop(): void } {
  const msgs: Msg[] = [];
  const waiters: Array<() => void> = [];
  const listener = (nodeId: string, msg: Msg): void => {
    if (nodeId !== id) return;
    msgs.push(msg);
    for (const wake of waiters.splice(0)) wake();
  };
  takers.on('input', listener);
  return {
    msgs,
    count: (n, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`taker ${id} got ${msgs.length} of ${n} messages (after ${timeoutMs} ms)`)), timeoutMs);
        const check = (): void => {
          if (msgs.length < n) return void waiters.push(check);
          clearTimeout(timer);
          resolve(msgs.slice(0, n));
        };
        check();
      }),
    stop: () => takers.off('input', listener),
  };
}

/** Resolves once `check()` holds, re-checked every loop turn (state that no event announces, e.g. a commit). */
export async function turnsUntil(check: () => boolean, explain: () => string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${explain()} (after ${timeoutMs} ms)`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resolves once the clock has passed the current millisecond: the next message gets a later receivedAt. */
export function nextMillisecond(): Promise<void> {
  const now = Date.now();
  return turnsUntil(() => Date.now() > now, () => 'the clock did not move');
}

/** The answer of the goip-inbox node `id` (wired to `${id}Out`) to `msg`. */
export async function ask(id: string, msg: Msg): Promise<Msg> {
  const answer = nextInput(`${id}Out`);
  helper.getNode(id).receive(msg);
  return answer;
}

/** A goip-inbox node `id` on cfg wired to the helper node `${id}Out`. */
export function inboxNodes(id = 'ibx'): Msg[] {
  return [
    { id, type: 'goip-inbox', z: 'tab', server: 'cfg', name: '', wires: [[`${id}Out`]] },
    { id: `${id}Out`, type: 'helper', z: 'tab' },
  ];
}
