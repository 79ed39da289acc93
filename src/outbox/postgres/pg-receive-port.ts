/**
 * The receive path's store port on PostgreSQL: a group commit's reads are one query each, and its
 * writes (the flow's takes, held parts, delivery states, the new inbox rows) are one statement, or
 * one transaction on one connection when parts or delivery states are among them; committed means
 * on the server's disk, so there is no later sync to wait for.
 */
import type pg from 'pg';
import type { InboxWrites, ReceiveStore } from '../types';
import { PgDeliveries } from './pg-deliveries';
import { PgHeldParts, PgInboxLog, type PgInboxOptions } from './pg-inbox';
import { inTransaction } from './pg-pool';

export function pgReceivePort(pool: pg.Pool, options: PgInboxOptions, warn: (err: unknown) => void): ReceiveStore {
  const inbox = new PgInboxLog(pool, options);
  const deliveries = new PgDeliveries(pool, options.now);
  const write = async (client: pg.PoolClient, writes: InboxWrites): Promise<number[]> => {
    const log = new PgInboxLog(client, options);
    const parts = new PgHeldParts(client);
    for (const change of writes.held) {
      if ('hold' in change) await parts.hold(change.hold);
      else await parts.release(change.release.line, change.release.from);
    }
    const marks = new PgDeliveries(client, options.now);
    for (const { messageId, tpStatus, at } of writes.deliveries) {
      // A savepoint: a send that is gone (purged) leaves the report stored without its state on the send.
      await client.query('SAVEPOINT delivery');
      try {
        await marks.markDelivery(messageId, tpStatus, at);
        await client.query('RELEASE SAVEPOINT delivery');
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT delivery');
        warn(err);
      }
    }
    return log.insert(writes.records, writes.takes);
  };
  /** The usual commit (new rows and the flow's takes) is one statement, one round trip; held parts or delivery states make it a transaction. */
  const commit = (writes: InboxWrites): Promise<number[]> =>
    writes.held.length === 0 && writes.deliveries.length === 0 ? inbox.insert(writes.records, writes.takes) : inTransaction(pool, (client) => write(client, writes));
  return {
    lastSentToEach: (asks) => inbox.lastSentToEach(asks),
    deliverySend: async (line, smsNo, windowMs, now) => (await deliveries.correlateDelivery(line, smsNo, windowMs, now))?.messageId ?? null,
    commit: async (writes) => ({ inboxIds: await commit(writes), syncError: null }),
  };
}
