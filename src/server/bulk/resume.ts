/**
 * What a start finds in the store: queued numbers no configured line may send end failed with the
 * reason (they would wait forever), numbers claimed on a line no longer configured are given up,
 * and the others are grouped by the session they were claimed in, to be re-asked as they were.
 */
import type { Outbox, Recipient } from '../../outbox/types';
import type { GoipServer } from '../goip-server';
import type { FleetHooks } from './fleet-hooks';
import type { RecipientOutcomes } from './recipient-outcomes';
import { claimedBySession } from './session-registry';

export function resumableSessions(outbox: Outbox, server: GoipServer, fleet: FleetHooks, outcomes: RecipientOutcomes): Recipient[][] {
  for (const recipient of outbox.failUnsendable(server.lines().map((info) => info.id))) outcomes.failedUnclaimed(recipient);
  const routable = fleet.routableGroups();
  if (routable !== undefined) for (const recipient of outbox.failUnroutable(routable)) outcomes.failedUnclaimed(recipient);
  const resumable: Recipient[] = [];
  for (const recipient of outbox.claimedRecipients()) {
    const { line, sendId, telId } = recipient;
    if (line === null || sendId === null || telId === null) continue;
    if (server.line(line) === undefined) outcomes.giveUp(recipient, 'line no longer configured');
    else resumable.push(recipient);
  }
  return claimedBySession(resumable);
}
