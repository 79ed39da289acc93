/**
 * When the flow is done with a goip-send result or a goip-in inbox message, so that the store may
 * stop emitting it again after a restart (src/gateway/sending.ts, src/gateway/inbox). Node-RED's
 * messaging hooks follow every message that carries the result's _msgid (the router's clones keep
 * it, and so do messages a function node makes from it): the result is taken once every node that
 * got one has called done and no delivery is pending, or once nothing of its _msgid moved for
 * HANDOVER_IDLE_MS (a node that never calls done). Results of one batch share the input's _msgid,
 * so they are taken together.
 */
import type { MessagingHooks, NodeMessage } from './red';

/** A node that holds a result without calling done: it counts as taken after this long idle. */
const HANDOVER_IDLE_MS = 60_000;

const LABEL = 'goip-results';

interface Trace {
  msgid: string;
  /** Deliveries on their way, goip-send sends in progress, and nodes holding a message of the trace. */
  open: number;
  /**
   * Messages of the trace each node holds: a done counts only from a node that got one after the
   * trace began. Most traces reach one node: it is kept in `holder`, a Map only for the others.
   */
  holder: string | null;
  held: number;
  others: Map<string, number> | null;
  taken: Array<() => void>;
  /** When something of the trace last moved (Date.now()). */
  moved: number;
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
  /** Traces with nothing open, taken on the next turn unless something of them moves first. */
  private releasing: Trace[] = [];
  /** One timer for all traces (a timer per message cost more than the rest of its handover). */
  private idleTimer: NodeJS.Timeout | null = null;
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
      this.release(trace);
    }
  }

  private open(msgid: string): Trace {
    const trace: Trace = { msgid, open: 0, holder: null, held: 0, others: null, taken: [], moved: Date.now() };
    this.traces.set(msgid, trace);
    this.idleTimer ??= this.armIdle(this.idleMs);
    return trace;
  }

  private traceOf(msg: unknown): Trace | undefined {
    const msgid = msgidOf(msg);
    const trace = msgid === undefined ? undefined : this.traces.get(msgid);
    if (trace !== undefined) trace.moved = Date.now();
    return trace;
  }

  private routing(msg: unknown): void {
    const trace = this.traceOf(msg);
    if (trace === undefined) return;
    trace.open++;
    this.routed.set(msg as object, (this.routed.get(msg as object) ?? 0) + 1);
  }

  private received(msg: unknown, nodeId: string | undefined): void {
    const trace = this.traceOf(msg);
    if (trace === undefined || nodeId === undefined) return;
    hold(trace, nodeId);
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
    const trace = this.traceOf(msg);
    if (trace === undefined || nodeId === undefined) return;
    if (!unhold(trace, nodeId)) return; // it got the message before the trace began
    this.release(trace);
  }

  /** One holder less; at none, taken after this turn (unless something of the trace moves first). */
  private release(trace: Trace): void {
    trace.open = Math.max(0, trace.open - 1);
    if (trace.open > 0) return;
    this.releasing.push(trace);
    if (this.releasing.length === 1) setImmediate(this.settleReleased);
  }

  private readonly settleReleased = (): void => {
    const released = this.releasing;
    this.releasing = [];
    for (const trace of released) if (trace.open === 0) this.settle(trace);
  };

  /** Takes the traces idle for idleMs; looks again when the next could be (at most 8 looks per idle time). */
  private armIdle(delayMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.idleTimer = null;
      const now = Date.now();
      let next = Number.POSITIVE_INFINITY;
      for (const trace of this.traces.values()) {
        if (now - trace.moved >= this.idleMs) this.settle(trace);
        else next = Math.min(next, trace.moved + this.idleMs);
      }
      if (next !== Number.POSITIVE_INFINITY) this.idleTimer = this.armIdle(Math.max(next - now, this.idleMs / 8));
    }, delayMs);
    timer.unref();
    return timer;
  }

  private settle(trace: Trace): void {
    if (this.traces.get(trace.msgid) !== trace) return;
    this.traces.delete(trace.msgid);
    for (const taken of trace.taken) taken();
  }
}

function hold(trace: Trace, nodeId: string): void {
  if (trace.holder === null || trace.holder === nodeId) {
    trace.holder = nodeId;
    trace.held++;
    return;
  }
  trace.others ??= new Map();
  trace.others.set(nodeId, (trace.others.get(nodeId) ?? 0) + 1);
}

/** False when `nodeId` holds nothing of the trace. */
function unhold(trace: Trace, nodeId: string): boolean {
  if (trace.holder === nodeId && trace.held > 0) {
    trace.held--;
    return true;
  }
  const held = trace.others?.get(nodeId) ?? 0;
  if (held === 0) return false;
  if (held === 1) trace.others?.delete(nodeId);
  else trace.others?.set(nodeId, held - 1);
  return true;
}
