/**
 * The embedded SQLite store behind the gateway's asynchronous port (./store-ports.ts): every call
 * runs at once and its Promise is settled in the same turn, so nothing waits for I/O and the
 * figures stay those of the synchronous store.
 */
import { receivePortOf } from './receive-port';
import { sendPortOf } from './send-port';
import { asynchronousOf, type GatewayStore, settled } from './store-ports';
import { isReceivingStore, type Outbox } from './types';

export function sqliteStore(outbox: Outbox, warn: (err: unknown) => void): GatewayStore {
  const receiving = isReceivingStore(outbox) ? outbox : null;
  return {
    kind: 'sqlite',
    send: sendPortOf(outbox),
    outbox: asynchronousOf(outbox, ['enqueue', 'queuedCount', 'claimedCount', 'sentByLineOn', 'purge']),
    queue: asynchronousOf(outbox.queue, ['status', 'cancel', 'retry', 'block', 'unblock', 'blocked', 'expireDue', 'nextTimedAt']),
    results: asynchronousOf(outbox.results, ['unreported', 'taken']),
    deliveries: asynchronousOf(outbox, ['correlateDelivery', 'markDelivery', 'findSentTo']),
    receive:
      receiving === null
        ? null
        : {
            commit: receivePortOf(receiving, warn),
            log: asynchronousOf(receiving.inbox(), ['recentReports', 'untaken', 'takesOf', 'taken', 'query', 'lastSentTo']),
            heldParts: asynchronousOf(receiving.heldParts(), ['all']),
          },
    cluster: null,
    ready: () => Promise.resolve(),
    close: () => settled(() => outbox.close()),
  };
}
