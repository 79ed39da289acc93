/**
 * The send engine's asynchronous store port over a synchronous Outbox. Each call runs at once and
 * its Promise is already settled, so the engine's awaits resolve in the same turn and nothing waits
 * for I/O. A store with deferred sync (SQLite) commits the writes without waiting for the disk and
 * `durable()` syncs them in one go; any other Outbox is durable call by call.
 */
import { hasDeferredSync, type Outbox, type SendStore } from './types';
import { settled } from './store-ports';


export function sendPortOf(outbox: Outbox): SendStore {
  const deferred = hasDeferredSync(outbox) ? outbox : null;
  const read = settled;
  const write = <T>(work: () => T): Promise<T> => settled(() => (deferred === null ? work() : deferred.unsynced(work)));
  return {
    claim: (...args) => write(() => outbox.claim(...args)),
    nextBatch: (...args) => read(() => outbox.nextBatch(...args)),
    nextSendId: (line) => write(() => outbox.nextSendId(line)),
    failUnroutable: (groups) => write(() => outbox.failUnroutable(groups)),
    failUnsendable: (lines) => write(() => outbox.failUnsendable(lines)),
    claimedRecipients: () => read(() => outbox.claimedRecipients()),
    markSent: (...args) => write(() => outbox.markSent(...args)),
    markFailed: (...args) => write(() => outbox.markFailed(...args)),
    requeue: (...args) => write(() => outbox.requeue(...args)),
    get: (messageId) => read(() => outbox.get(messageId)),
    sentSince: (...args) => read(() => outbox.sentSince(...args)),
    sentByLineOn: (day) => read(() => outbox.sentByLineOn(day)),
    queuedCount: () => read(() => outbox.queuedCount()),
    expireDue: () => write(() => outbox.queue.expireDue()),
    nextTimedAt: () => read(() => outbox.queue.nextTimedAt()),
    durable: () => settled(() => deferred?.syncNow()),
  };
}
