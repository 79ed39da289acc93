/**
 * The shared store as the gateway sees it (../store-ports.ts): the send queue, the operator's
 * queue, results, deliveries and the inbox of every instance on one PostgreSQL, and what one
 * instance does among the others: its lines' presence, its configured lines and groups, adopting
 * the inbox rows of an instance that died, and the wake-up when another instance queued work.
 * Opening makes no connection; ready() migrates the schema (the caller retries while it fails),
 * and every call made before waits for that: no query meets a schema that is not there yet.
 */
import type { GatewayStore, StoreCluster } from '../store-ports';
import { PgDeliveries } from './pg-deliveries';
import { PgHeldParts, PgInboxLog } from './pg-inbox';
import { checkSchemaName, DEFAULT_SCHEMA, openPool, type PgStoreOptions } from './pg-pool';
import { LinePresence } from './pg-presence';
import { PgQueue } from './pg-queue';
import { PgQueueControl, PgResultLog } from './pg-queue-control';
import { pgReceivePort } from './pg-receive-port';
import { migratePg } from './pg-schema';
import { PgWake } from './pg-wake';

export interface PgGatewayStoreOptions extends PgStoreOptions {
  /** This instance's name in the cluster (goip-config `instance`). */
  instance: string;
  /** How long a line and an instance stay this instance's without a renewal (goip-config `leaseSeconds`). */
  leaseMs: number;
}

/** `target`'s calls, each made once `opened` resolved. */
function afterOpen<T extends object>(target: T, opened: Promise<void>): T {
  return new Proxy(target, {
    get(object, key, receiver) {
      const value: unknown = Reflect.get(object, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => opened.then(() => (value as (...a: unknown[]) => unknown).apply(object, args));
    },
  });
}

/** Told once the schema was brought from version `from` to `to` (not when it was up to date). */
export type MigratedListener = (from: number, to: number) => void;

export function pgStore(options: PgGatewayStoreOptions, warn: (err: unknown) => void, migrated: MigratedListener = () => undefined): GatewayStore {
  const schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
  if (options.instance.trim() === '') throw new Error('postgres store: the instance needs a name');
  const pool = openPool({ ...options, schema, onIdleError: warn });
  const { instance, leaseMs } = options;
  const queue = new PgQueue(pool, { instance, leaseMs });
  const control = new PgQueueControl(pool);
  const inbox = new PgInboxLog(pool, { instance, leaseMs });
  const presence = new LinePresence(pool, instance, leaseMs);
  const workListeners = new Set<() => void>();
  const wake = new PgWake({ ...options, schema }, () => {
    for (const listener of workListeners) listener();
  }, warn);
  let listening: Promise<void> | null = null;
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const gated = <T extends object>(target: T): T => afterOpen(target, opened);
  const cluster: StoreCluster = {
    instance,
    leaseMs,
    renew: (lines) => presence.renew(lines),
    announce: (lines, groups) => presence.announce(lines, groups),
    release: (lines) => presence.release(lines),
    adoptOrphans: () => inbox.adoptOrphans(),
    liveInstances: () => presence.liveInstances(),
    onWork: (listener) => void workListeners.add(listener),
  };
  return {
    kind: 'postgres',
    send: gated(queue),
    outbox: gated({
      enqueue: (batch) => queue.enqueue(batch),
      queuedCount: () => queue.queuedCount(),
      claimedCount: () => queue.claimedCount(),
      sentByLineOn: (day) => queue.sentByLineOn(day),
      purge: (olderThanMs, now) => control.purge(olderThanMs, now),
    }),
    queue: gated(control),
    results: gated(new PgResultLog(pool)),
    deliveries: gated(new PgDeliveries(pool)),
    receive: {
      commit: gated(pgReceivePort(pool, { instance, leaseMs }, warn)),
      log: gated(inbox),
      heldParts: gated(new PgHeldParts(pool)),
    },
    cluster: gated(cluster),
    ready: async () => {
      const { from, to } = await migratePg(pool, schema);
      if (from < to) migrated(from, to);
      open();
      listening ??= wake.start();
      await listening;
    },
    close: async () => {
      workListeners.clear();
      await wake.stop();
      await pool.end();
    },
  };
}
