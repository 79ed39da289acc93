/**
 * The receive path's store port over the SQLite store. The reads answer in the same turn; a
 * commit is one synchronous transaction at synchronous=NORMAL (commitLater), its Promise settled
 * once the WAL's fdatasync (on the threadpool) has it, so the group commit costs what it did.
 */
import type { InboxCommit, InboxWrites, ReceiveStore, ReceivingStore } from './types';
import { settled } from './store-ports';


export function receivePortOf(store: ReceivingStore, warn: (err: unknown) => void): ReceiveStore {
  const log = store.inbox();
  const parts = store.heldParts();
  const write = (writes: InboxWrites): number[] => {
    if (writes.takes.done.length > 0 || writes.takes.partial.length > 0) log.taken(writes.takes.done, writes.takes.partial);
    for (const change of writes.held) {
      if ('hold' in change) parts.hold(change.hold);
      else parts.release(change.release.line, change.release.from);
    }
    for (const { messageId, tpStatus, at } of writes.deliveries) {
      try {
        store.markDelivery(messageId, tpStatus, at);
      } catch (err) {
        warn(err); // the send is gone (purged): the report is stored without its state on the send
      }
    }
    return writes.records.map((record) => log.insert(record));
  };
  return {
    lastSentToEach: (asks) => settled(() => asks.map(({ number, since }) => log.lastSentTo(number, since))),
    deliverySend: (line, smsNo, windowMs, now) => settled(() => store.correlateDelivery(line, smsNo, windowMs, now)?.messageId ?? null),
    commit: (writes) =>
      new Promise<InboxCommit>((resolve, reject) => {
        let inboxIds: number[] = [];
        try {
          store.commitLater(
            () => {
              inboxIds = write(writes);
            },
            (syncError) => resolve({ inboxIds, syncError }),
          );
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }),
  };
}
