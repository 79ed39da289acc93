/**
 * Who has still to take each inbox message. Each consumer (a goip-in node, by its stable node id)
 * gets its own copy of every message its filter accepts; a message is taken for good once every
 * consumer that accepted it has taken its copy, and until then the store keeps it untaken, so a
 * kill -9 or a consumer deployed later gets it from the store (replay, in receive order).
 * A consumer that follows again (a redeploy) gets again what its former self had not taken.
 */
import type { InboxReads } from '../../outbox/store-ports';
import type { InboxFilter, InboxKind } from '../../outbox/types';
import type { GoipEvent } from '../../link';

/** `taken` once the flow is done with the message; `redelivered` when it may have been emitted before. */
export type InboxListener = (event: GoipEvent, redelivered: boolean, taken: () => void) => void;

/** Untaken messages read from the store at once when a consumer follows. */
const REPLAY_PAGE = 500;
/**
 * Takes wait this long for the next inbox commit to carry them (their rows are the pages it
 * writes anyway), else they commit on their own. A take lost in a crash is a redelivery.
 */
const TAKES_WAIT_MS = 20;

/** A consumer's copy that was taken (or taken before a restart, per the store). */
const TAKEN = Object.freeze({});
const NONE: readonly string[] = [];

/** Takes not written yet: messages taken by all their consumers, and by one of several. */
export interface Takes {
  done: number[];
  partial: Array<{ inboxId: number; nodeId: string }>;
}

interface Consumer {
  filter: InboxFilter;
  listener: InboxListener;
  /** This subscription: a take by an earlier one (closed by a redeploy) no longer counts. */
  token: object;
}

/** A consumer's copy of one message. */
interface Copy {
  id: string;
  /** The subscription it was handed through, TAKEN once taken, undefined before it is handed. */
  token: object | undefined;
  /** It accepted the message and has not taken it. */
  pending: boolean;
}

/**
 * Who got a copy of one message and who has still to take it. A message has a copy per goip-in
 * that accepts it, a few at most: an array costs less than a Set and a Map per message.
 */
class InFlight {
  private readonly copies: Copy[] = [];
  private waiting = 0;

  constructor(takenBefore: readonly string[]) {
    for (const id of takenBefore) this.copies.push({ id, token: TAKEN, pending: false });
  }

  /** `id` accepted the message: it is done once `id` took it. */
  pend(id: string): void {
    const copy = this.copyOf(id);
    if (copy.pending) return;
    copy.pending = true;
    this.waiting++;
  }

  handedTo(id: string): object | undefined {
    return this.copies.find((copy) => copy.id === id)?.token;
  }

  hand(id: string, token: object): void {
    this.copyOf(id).token = token;
  }

  /** `id` took its copy; how many copies are still pending. */
  take(id: string): number {
    const copy = this.copyOf(id);
    copy.token = TAKEN;
    if (copy.pending) {
      copy.pending = false;
      this.waiting--;
    }
    return this.waiting;
  }

  private copyOf(id: string): Copy {
    for (const copy of this.copies) if (copy.id === id) return copy;
    const copy: Copy = { id, token: undefined, pending: false };
    this.copies.push(copy);
    return copy;
  }
}

export class InboxConsumers {
  private readonly consumers = new Map<string, Consumer>();
  private readonly inFlight = new Map<number, InFlight>();
  private takes: Takes = { done: [], partial: [] };
  private commitTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> = Promise.resolve();
  /** Replays reading now: a message taken for good meanwhile is not handed again from their page. */
  private replaying = 0;
  private readonly doneWhileReplaying = new Set<number>();
  private closed = false;

  constructor(
    private readonly log: InboxReads,
    /** Committing takes failed: those messages go out again after a restart. */
    private readonly failed: (err: unknown) => void,
  ) {}

  /** Messages for `id` go to `listener` until the returned function is called, first those it has still to take. */
  follow(id: string, filter: InboxFilter, listener: InboxListener): () => void {
    const consumer: Consumer = { filter, listener, token: {} };
    this.consumers.set(id, consumer);
    setImmediate(() => void this.replay(id, consumer, 0));
    return () => {
      if (this.consumers.get(id) === consumer) this.consumers.delete(id);
    };
  }

  /** Some consumer follows messages like this one (it is handed out right after its commit). */
  accepted(event: GoipEvent): boolean {
    for (const consumer of this.consumers.values()) if (accepts(consumer.filter, event)) return true;
    return false;
  }

  /** A message just committed: each consumer that accepts it gets its copy. */
  hand(event: GoipEvent): void {
    if (this.consumers.size === 1) {
      const [id, consumer] = this.consumers.entries().next().value as [string, Consumer];
      if (!accepts(consumer.filter, event)) return;
      const flight = this.flightOf(event.inboxId as number, NONE);
      flight.pend(id);
      this.give(id, consumer, flight, event, false);
      return;
    }
    const takers = [...this.consumers].filter(([, consumer]) => accepts(consumer.filter, event));
    if (takers.length === 0) return;
    // All of them pending before the first copy goes: a copy may be taken as it is handed.
    const flight = this.flightOf(event.inboxId as number, NONE);
    for (const [id] of takers) flight.pend(id);
    for (const [id, consumer] of takers) this.give(id, consumer, flight, event, false);
  }

  /** Every consumer reads again what it has still to take (messages another instance left, adopted now). */
  rescan(): void {
    for (const [id, consumer] of this.consumers) setImmediate(() => void this.replay(id, consumer, 0));
  }

  /** Commits the takes so far; nothing is written after (call before the store closes). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.commit();
    this.closed = true;
    this.consumers.clear();
    await this.committing;
  }

  private flightOf(inboxId: number, takenBefore: readonly string[]): InFlight {
    let flight = this.inFlight.get(inboxId);
    if (flight === undefined) {
      flight = new InFlight(takenBefore);
      this.inFlight.set(inboxId, flight);
    }
    return flight;
  }

  private give(id: string, consumer: Consumer, flight: InFlight, event: GoipEvent, redelivered: boolean): void {
    const inboxId = event.inboxId as number;
    const token = consumer.token;
    flight.hand(id, token);
    consumer.listener(event, redelivered, () => {
      if (this.closed || flight.handedTo(id) !== token) return;
      if (flight.take(id) > 0) {
        this.takes.partial.push({ inboxId, nodeId: id });
      } else {
        this.inFlight.delete(inboxId);
        if (this.replaying > 0) this.doneWhileReplaying.add(inboxId);
        this.takes.done.push(inboxId);
      }
      this.commitTimer ??= setTimeout(this.commit, TAKES_WAIT_MS);
    });
  }

  /** One page of what `id` has still to take, then the next on a later turn (a backlog does not stall the process). */
  private async replay(id: string, consumer: Consumer, after: number): Promise<void> {
    if (this.closed || this.consumers.get(id) !== consumer) return;
    this.replaying++;
    try {
      const page = await this.log.untaken(id, consumer.filter, after, REPLAY_PAGE);
      for (const message of page) {
        let known = this.inFlight.get(message.inboxId);
        let takenBefore: readonly string[] = NONE;
        if (known === undefined) {
          takenBefore = await this.log.takesOf(message.inboxId);
          known = this.inFlight.get(message.inboxId);
        }
        if (this.closed || this.consumers.get(id) !== consumer) return;
        if (this.doneWhileReplaying.has(message.inboxId)) continue;
        const handedNow = known?.handedTo(id);
        if (handedNow === consumer.token || handedNow === TAKEN) continue;
        const flight = known ?? this.flightOf(message.inboxId, takenBefore);
        if (known === undefined) for (const [other, c] of this.consumers) if (accepts(c.filter, message.event) && flight.handedTo(other) !== TAKEN) flight.pend(other);
        flight.pend(id);
        this.give(id, consumer, flight, message.event, message.handed || handedNow !== undefined);
      }
      if (page.length === REPLAY_PAGE) setImmediate(() => void this.replay(id, consumer, page[page.length - 1].inboxId));
    } catch (err) {
      this.failed(err);
    } finally {
      if (--this.replaying === 0) this.doneWhileReplaying.clear();
    }
  }

  /** The takes so far, for the inbox commit that carries them (putBack them if it did not commit). */
  pendingTakes(): Takes {
    if (this.commitTimer !== null) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    const takes = this.takes;
    this.takes = { done: [], partial: [] };
    return takes;
  }

  /** Takes whose commit failed: a later commit writes them. */
  putBack(takes: Takes): void {
    this.takes = { done: takes.done.concat(this.takes.done), partial: takes.partial.concat(this.takes.partial) };
  }

  /** The takes so far in one commit of their own, after the one before. */
  private readonly commit = (): void => {
    const takes = this.pendingTakes();
    if (takes.done.length === 0 && takes.partial.length === 0) return;
    this.committing = this.committing
      .then(() => this.log.taken(takes.done, takes.partial))
      .catch((err: unknown) => {
        this.putBack(takes);
        this.failed(err);
      });
  };
}


const INBOX_KINDS: readonly InboxKind[] = ['sms', 'delivery'];

/** The inbox kinds among a goip-in's events (null = all); an empty list follows nothing. */
export function inboxKindsOf(events: ReadonlySet<string> | null): InboxKind[] | null {
  return events === null ? null : INBOX_KINDS.filter((kind) => events.has(kind));
}

function accepts(filter: InboxFilter, event: GoipEvent): boolean {
  if (filter.line !== null && filter.line !== event.line) return false;
  return filter.kinds === null || (filter.kinds as readonly string[]).includes(event.event);
}
