/**
 * Joins long SMS that firmware hands over part by part (one RECEIVE per part, no part header,
 * sometimes tens of seconds apart). A text that is exactly one full part (./part-length.ts) is
 * held until the next RECEIVE from the same line and sender, within the window, and joined with
 * it, repeatedly; a chain that gets no continuation in time, or whose next text is longer than a
 * part, goes out as it is. Any other text passes at once, so firmware that joins parts itself is
 * unaffected.
 *
 * Held parts are in a HeldPartStore: durable (the outbox's SQLite file) they survive a restart or a
 * kill -9 and the chain resumes; the window then runs from when the newest part arrived.
 */
import type { HeldPart, HeldPartStore } from '../../outbox/types';
import type { GoipEvent } from '../../link';
import { partKind } from './part-length';

/** The held parts as the joiner uses them: written at once, read now or later. */
export type JoinerStore = Omit<HeldPartStore, 'all'> & { all(): HeldPart[] | Promise<HeldPart[]> };

/** A concatenated SMS has at most 255 parts (the header's count is one octet). */
const MAX_PARTS = 255;

export interface PartJoinerOptions {
  /** goip-config `joinParts`: false lets every text pass at once (held ones from before go out at start). */
  enabled: boolean;
  /** goip-config `joinWindow` in ms: how long a part waits for the next one. */
  windowMs: number;
  /** Its `all()` may answer later (a store across the network): start() resolves once the parts are taken up. */
  store: JoinerStore;
  publish: (event: GoipEvent) => void;
  /** The store failed: the part went out at once instead of being held. */
  warn: (err: unknown) => void;
  /**
   * With the inbox: runs a chain's release (the store's release and the publish, which stores the
   * joined message) in one commit, the one being decided while a report is accepted (a failure of
   * that commit refuses the report and reloads the chains), else one of its own: its rejection
   * puts the chain back, tried again later.
   */
  atomically?: (work: () => void) => Promise<void>;
}

/** A chain whose release failed on its timer is tried again this much later. */
const RELEASE_RETRY_MS = 1000;

interface Chain {
  line: string;
  from: string;
  parts: GoipEvent[];
  heldAt: number;
  timer: NodeJS.Timeout | null;
}

export class PartJoiner {
  private readonly chains = new Map<string, Chain>();
  private running = false;

  constructor(private readonly options: PartJoinerOptions) {}

  /** Takes up the parts held before (by an earlier run): each waits out what is left of its window. */
  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.running = true;
    return this.load();
  }

  /** Forgets the chains in memory and takes them up again from the store (a transaction was rolled back). */
  reload(): void {
    for (const chain of this.chains.values()) if (chain.timer !== null) clearTimeout(chain.timer);
    this.chains.clear();
    if (this.running) void this.load(RELEASE_RETRY_MS);
  }

  private load(leastWaitMs = 0): Promise<void> {
    let held;
    try {
      held = this.options.store.all();
    } catch (err) {
      this.options.warn(err);
      return Promise.resolve();
    }
    if (Array.isArray(held)) {
      this.takeUp(held, leastWaitMs);
      return Promise.resolve();
    }
    return held.then(
      (parts) => {
        if (this.running) this.takeUp(parts, leastWaitMs);
      },
      (err: unknown) => this.options.warn(err),
    );
  }

  private takeUp(held: readonly HeldPart[], leastWaitMs: number): void {
    for (const part of held) {
      const chain = this.chainOf(part.line, part.from);
      chain.parts.push(part.event);
      chain.heldAt = Math.max(chain.heldAt, part.heldAt);
    }
    for (const chain of this.chains.values()) this.arm(chain, leastWaitMs);
  }

  /**
   * Stops the window timers; held parts stay in a durable store for the next start. Without one
   * they go out now, as they are, rather than be lost.
   */
  stop(): void {
    this.running = false;
    for (const chain of [...this.chains.values()]) {
      if (chain.timer !== null) clearTimeout(chain.timer);
      chain.timer = null;
      if (!this.options.store.durable) this.release(chain);
    }
    this.chains.clear();
  }

  /** An `sms` event from the server. */
  accept(event: GoipEvent): void {
    const line = event.line;
    const from = event.from ?? '';
    const key = chainKey(line, from);
    const chain = this.chains.get(key);
    if (chain !== undefined && chain.parts.some((part) => isResend(part, event))) return;
    const kind = partKind(String(event.payload));
    if (kind === 'whole') {
      // Longer than a part, so it continues nothing: the chain goes out as it is, first.
      if (chain !== undefined) this.release(chain);
      this.options.publish(joined([event]));
      return;
    }
    const holds = this.options.enabled && this.running && kind === 'full';
    if (chain === undefined && !holds) {
      this.options.publish(joined([event]));
      return;
    }
    const target = chain ?? this.chainOf(line, from);
    target.parts.push(event);
    if (!holds || target.parts.length >= MAX_PARTS) {
      this.release(target);
      return;
    }
    const part: HeldPart = { line, from, event, heldAt: Date.now() };
    try {
      this.options.store.hold(part);
    } catch (err) {
      if (this.options.atomically !== undefined) throw err;
      this.options.warn(err);
      this.release(target);
      return;
    }
    target.heldAt = part.heldAt;
    this.arm(target);
  }

  /** Parts held right now, for the sidebar and the metrics. */
  get heldCount(): number {
    let count = 0;
    for (const chain of this.chains.values()) count += chain.parts.length;
    return count;
  }

  private chainOf(line: string, from: string): Chain {
    const key = chainKey(line, from);
    let chain = this.chains.get(key);
    if (chain === undefined) {
      chain = { line, from, parts: [], heldAt: 0, timer: null };
      this.chains.set(key, chain);
    }
    return chain;
  }

  private arm(chain: Chain, leastWaitMs = 0): void {
    if (chain.timer !== null) clearTimeout(chain.timer);
    const waitMs = this.options.enabled ? Math.max(leastWaitMs, chain.heldAt + this.options.windowMs - Date.now()) : leastWaitMs;
    chain.timer = setTimeout(() => this.releaseOnTimer(chain), waitMs);
  }

  private releaseOnTimer(chain: Chain): void {
    const retry = (err: unknown): void => {
      // Inbox on and the store failing: the parts stay held, in memory and in the store.
      this.options.warn(err);
      if (!this.running) return;
      // A part that came meanwhile began a chain of its own: the older parts go first in it.
      const newer = this.chains.get(chainKey(chain.line, chain.from));
      if (newer !== undefined) newer.parts.unshift(...chain.parts);
      else this.chains.set(chainKey(chain.line, chain.from), chain);
      this.arm(newer ?? chain, RELEASE_RETRY_MS);
    };
    try {
      this.release(chain)?.catch(retry);
    } catch (err) {
      retry(err);
    }
  }

  /**
   * Publishes the chain as one message and forgets it in the store. Without the inbox, a crash
   * between the two repeats the message after the restart rather than lose it; with it, both are
   * one transaction.
   */
  private release(chain: Chain): Promise<void> | undefined {
    if (chain.timer !== null) clearTimeout(chain.timer);
    chain.timer = null;
    this.chains.delete(chainKey(chain.line, chain.from));
    if (chain.parts.length === 0) return undefined;
    const { atomically } = this.options;
    if (atomically !== undefined) {
      return atomically(() => {
        this.options.store.release(chain.line, chain.from);
        this.options.publish(joined(chain.parts));
      });
    }
    this.options.publish(joined(chain.parts));
    try {
      this.options.store.release(chain.line, chain.from);
    } catch (err) {
      this.options.warn(err);
    }
    return undefined;
  }
}

function chainKey(line: string, from: string): string {
  return `${line}\u0000${from}`;
}

/** The same RECEIVE again (its ack was lost across a restart, so the server's memory of it is gone). */
function isResend(held: GoipEvent, event: GoipEvent): boolean {
  return held.fields.reportId === event.fields.reportId && held.payload === event.payload;
}

/** One `sms` event for the parts, in arrival order: the whole text, msg.goip.parts and reportIds. */
function joined(parts: readonly GoipEvent[]): GoipEvent {
  const first = parts[0];
  const last = parts[parts.length - 1];
  const text = parts.map((part) => String(part.payload)).join('');
  const reportIds = parts.map((part) => part.fields.reportId ?? '');
  const fields = parts.length === 1 ? first.fields : { ...first.fields, msg: text };
  return { ...first, payload: text, fields, receivedAt: last.receivedAt, parts: parts.length, reportIds };
}
