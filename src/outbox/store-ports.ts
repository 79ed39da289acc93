/**
 * The whole store as the gateway sees it, every call asynchronous: the send engine's port, what
 * goip-send and goip-queue ask, the result log, delivery correlation and the receive side. The
 * embedded SQLite store answers in the same turn (./sqlite-store.ts); the shared PostgreSQL store
 * answers across the network (./postgres/pg-store.ts). Nothing above this port knows which.
 */
import type { Asynchronous, HeldPartStore, InboxLog, Outbox, QueueControl, ReceiveStore, ResultLog, SendStore } from './types';

/** What submitting, counting and retention ask of the outbox. */
export type OutboxCalls = Pick<Outbox, 'enqueue' | 'queuedCount' | 'claimedCount' | 'sentByLineOn' | 'purge'>;
/** Which send a delivery report is for, and its state. */
export type DeliveryCalls = Pick<Outbox, 'correlateDelivery' | 'markDelivery' | 'findSentTo'>;
/** The inbox's reads and the takes of the flow (its rows are written by ReceiveStore.commit). */
export type InboxReads = Asynchronous<Omit<InboxLog, 'insert'>>;

export interface ReceivePorts {
  /** The group commit: reads, then one transaction. */
  commit: ReceiveStore;
  log: InboxReads;
  /** Read at start and after a failed commit; written through `commit`. */
  heldParts: Pick<Asynchronous<HeldPartStore>, 'all'>;
}

/** What an instance of a shared store does besides answering: see ./postgres/pg-store.ts. */
export interface StoreCluster {
  /** This instance's name among the others. */
  readonly instance: string;
  /** Renews the lines registered here now; resolves with the lines this instance holds after it (and whom each was taken from). */
  renew(lines: readonly string[]): Promise<ReadonlyMap<string, string | null>>;
  /** The lines and groups this instance could send on (unsendable is decided over all instances). */
  announce(lines: readonly string[], groups: readonly string[] | null): Promise<void>;
  /** Lines no longer registered here: another instance may take them at once. */
  release(lines: readonly string[]): Promise<void>;
  /** The untaken inbox rows of instances whose lease lapsed become this one's; how many. */
  adoptOrphans(): Promise<number>;
  /** The instances whose lease holds now. */
  liveInstances(): Promise<string[]>;
  /** How long lines and this instance stay held without a renewal (ms). */
  readonly leaseMs: number;
  /** `listener` is told whenever another instance queued work. */
  onWork(listener: () => void): void;
}

export interface GatewayStore {
  readonly kind: 'sqlite' | 'postgres';
  readonly send: SendStore;
  readonly outbox: Asynchronous<OutboxCalls>;
  readonly queue: Asynchronous<QueueControl>;
  readonly results: Asynchronous<ResultLog>;
  readonly deliveries: Asynchronous<DeliveryCalls>;
  /** The inbox and held parts; null when the store keeps none. */
  readonly receive: ReceivePorts | null;
  /** Several instances on this store; null for a store of one instance. */
  readonly cluster: StoreCluster | null;
  /** Resolves once the store answers (its schema migrated); retried by the caller while it rejects. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export function isGatewayStore(value: unknown): value is GatewayStore {
  const candidate = value as Partial<GatewayStore> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.ready === 'function' && typeof candidate.send === 'object';
}

/** A synchronous call as a settled Promise (a throw becomes a rejection). */
export function settled<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** The named calls of a synchronous object as settled Promises. */
export function asynchronousOf<T extends object, K extends keyof T>(target: T, keys: readonly K[]): Asynchronous<Pick<T, K>> {
  const port: Record<string, unknown> = {};
  for (const key of keys) {
    const call = target[key] as unknown as (...args: unknown[]) => unknown;
    port[key as string] = (...args: unknown[]) => settled(() => call.apply(target, args));
  }
  return port as Asynchronous<Pick<T, K>>;
}
