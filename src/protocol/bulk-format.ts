/** Bulk session replies as a device sends them (simulator, tests): the inverse of parseBulkReply. */
import { BULK_REPLY_VERBS, type BulkReply } from './bulk';
import { formatReply } from './device';

/** A bulk reply to format: a session error by its text alone (the simulator has one of its own). */
export type OutgoingBulkReply = Exclude<BulkReply, { kind: 'sessionError' }> | { kind: 'sessionError'; sendId: number; text: string };

/** The datagram a device sends for `reply` (simulator side); parseBulkReply reads it back. */
export function formatBulkReply(reply: OutgoingBulkReply): string {
  const verb = BULK_REPLY_VERBS[reply.kind];
  switch (reply.kind) {
    case 'passwordRequest':
    case 'ready':
    case 'done':
      return formatReply(verb, reply.sendId);
    case 'wait':
      return formatReply(verb, reply.sendId, reply.telId);
    case 'sent':
      return reply.smsNo === null ? formatReply(verb, reply.sendId, reply.telId) : formatReply(verb, reply.sendId, reply.telId, reply.smsNo);
    case 'sendFailed':
      return formatReply(verb, reply.sendId, reply.telId, reply.status);
    case 'sessionError':
      return formatReply(verb, reply.sendId, reply.text);
  }
}
