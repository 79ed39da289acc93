/**
 * When the flow is done with a goip-send result or a goip-in inbox message, so that the store may
 * stop emitting it again after a restart (src/gateway/sending.ts, src/gateway/inbox). Node-RED's
 * messaging hooks follow every message that carries the result's _msgid (the router's clones keep
 * it, and so do messages a function node makes from it): the result is taken once every node that
 * got one has called done and no delivery is pending, or once nothing of its _msgid moved for
 * HANDOVER_IDLE_MS (a node that never calls done). Results of one batch share the input's _msgid,
 * so they are taken together.
 */
import type { NodeMessage } from './red';

/** A node that holds a result without calling done: it counts as taken after this long idle. */
const HANDOVER_IDLE_MS = 60_000;

const LABEL = 'goip-results';

/** The fields of Node-RED's hook events used here (onReceive has destination, onComplete node). */
export interface HookEvent {
  msg?: unknown;
  destination?: { id?: string };
  node?: { id?: string };
}

export interface MessagingHooks {
  add(name: string, hook: (event: HookEvent) => void): void;
  remove(name: string): void;
}

interface Trace {
  /** Deliveries on their way, goip-send sends in progress, and nodes holding a message of the trace. */
  open: number;
  /** Messages of the trace each node holds: a done counts only from a node that got one after the trace began. */
  holds: Map<string, number>;
  taken: Array<() => void>;
  idle: NodeJS.Timeout;
}

/** One handover per runtime (per hooks object): goip-send results and goip-in inbox messages share its hooks. */
const perRuntime = new WeakMap<MessagingHooks, ResultHandover>();

export function sharedHandover(hooks: MessagingHooks | undefined): ResultHandover {
  if (hooks === undefined) return new ResultHandover();
  let handover = perRuntime.get(hooks);
  if (handover === undefined) {
    handover = new ResultHandover();
    handover.attach(hooks);
    perRuntime.set(hooks, handover);
  }
  return handover;
}

const msgidOf = (msg: unknown): string | undefined =>
  typeof msg === 'object' && msg !== null && typeof (msg as NodeMessage)._msgid === 'string' ? (msg as NodeMessage)._msgid : undefined;

export class ResultHandover {
  private readonly traces = new Map<string, Trace>();
  /** Messages routed to a node and not received yet (counted at the route: the sender may call done first). */
  private readonly routed = new WeakMap<object, number>();
  private hooked = false;

  constructor(private readonly idleMs = HANDOVER_IDLE_MS) {}

  /** Follows the runtime's messages from now on; without hooks a result counts as taken once sent. */
  attach(hooks: MessagingHooks | undefined): void {
    if (hooks === undefined) return;
    hooks.remove(`*.${LABEL}`); // the module loaded again into the same runtime
    hooks.add(`preDeliver.${LABEL}`, ({ msg }) => this.routing(msg));
    hooks.add(`onReceive.${LABEL}`, ({ msg, destination }) => this.received(msg, destination?.id));
    hooks.add(`onComplete.${LABEL}`, ({ msg, node }) => this.completed(msg, node?.id));
    this.hooked = true;
  }

  /** Sends `msg` with `send`; `taken` is called when the flow is done with it. */
  send(msg: NodeMessage & { _msgid: string }, send: () => void, taken: () => void): void {
    if (!this.hooked) {
      send();
      taken();
      return;
    }
    const trace = this.traces.get(msg._msgid) ?? this.open(msg._msgid);
    trace.taken.push(taken);
    trace.open++;
    try {
      send();
    } finally {
      this.release(msg._msgid, trace);
    }
  }

  private open(msgid: string): Trace {
    const trace: Trace = { open: 0, holds: new Map(), taken: [], idle: setTimeout(() => this.settle(msgid, trace), this.idleMs) };
    trace.idle.unref();
    this.traces.set(msgid, trace);
    return trace;
  }

  private traceOf(msg: unknown): [string, Trace] | null {
    const msgid = msgidOf(msg);
    const trace = msgid === undefined ? undefined : this.traces.get(msgid);
    if (msgid === undefined || trace === undefined) return null;
    trace.idle.refresh();
    return [msgid, trace];
  }

  private routing(msg: unknown): void {
    const found = this.traceOf(msg);
    if (found === null) return;
    found[1].open++;
    this.routed.set(msg as object, (this.routed.get(msg as object) ?? 0) + 1);
  }

  private received(msg: unknown, nodeId: string | undefined): void {
    const found = this.traceOf(msg);
    if (found === null || nodeId === undefined) return;
    const [, trace] = found;
    trace.holds.set(nodeId, (trace.holds.get(nodeId) ?? 0) + 1);
    const pending = this.routed.get(msg as object) ?? 0;
    if (pending === 0) {
      trace.open++;
      return;
    }
    // Counted when it was routed: the delivery becomes the node holding it.
    if (pending === 1) this.routed.delete(msg as object);
    else this.routed.set(msg as object, pending - 1);
  }

  private completed(msg: unknown, nodeId: string | undefined): void {
    const found = this.traceOf(msg);
    if (found === null || nodeId === undefined) return;
    const [msgid, trace] = found;
    const held = trace.holds.get(nodeId) ?? 0;
    if (held === 0) return; // it got the message before the trace began
    if (held === 1) trace.holds.delete(nodeId);
    else trace.holds.set(nodeId, held - 1);
    this.release(msgid, trace);
  }

  /** One holder less; at none, taken after this turn (unless something of the trace moves first). */
  private release(msgid: string, trace: Trace): void {
    trace.open = Math.max(0, trace.open - 1);
    if (trace.open > 0) return;
    setImmediate(() => {
      if (trace.open === 0) this.settle(msgid, trace);
    });
  }

  private settle(msgid: string, trace: Trace): void {
    if (this.traces.get(msgid) !== trace) return;
    this.traces.delete(msgid);
    clearTimeout(trace.idle);
    for (const taken of trace.taken) taken();
  }
}
