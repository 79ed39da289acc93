/**
 * The final states of the engine's numbers in the outbox: sent, failed, or back in the queue for
 * another line (policy). A result for a number that has moved on since (a late or duplicated
 * reply) is counted late and changes nothing: never a result twice.
 *
 * And what a start finds in the store (resumableSessions): queued numbers no configured line may
 * send end failed with the reason (they would wait forever), numbers claimed on a line no longer
 * configured are given up, and the others are grouped by the session they were claimed in, to be
 * re-asked as they were.
 */
import type { Outbox, Recipient } from '../../outbox/types';
import type { GroupCommit } from './group-commit';
import type { BulkOptions, FleetHooks } from '../options';
import { afterLineGaveUp, localDay } from '../lines/policy';
import type { ConfiguredLines } from '../session/ports';

export class RecipientOutcomes {
  readonly counts = { sent: 0, failed: 0, expired: 0, requeued: 0, lateResults: 0 };

  constructor(
    private readonly outbox: Outbox,
    private readonly options: BulkOptions,
    private readonly commit: GroupCommit,
    /** The lines configured now that may send the recipient (its routing group's). */
    private readonly configuredLines: (recipient: Recipient) => string[],
    /** A number went back to the queue. */
    private readonly requeued: () => void,
  ) {}

  sent(held: Recipient, smsNo: number | null): void {
    if (this.stillClaimed(held) === null) return;
    this.finished(this.outbox.markSent(held.messageId, smsNo, localDay(Date.now())), 'sent');
  }

  failed(held: Recipient, reason: string): void {
    if (this.stillClaimed(held) === null) return;
    this.finished(this.outbox.markFailed(held.messageId, reason), 'failed');
  }

  /** Failed by the outbox itself, never claimed (Outbox.failUnsendable). */
  failedUnclaimed(recipient: Recipient): void {
    this.counts.failed++;
    this.commit.result(recipient);
  }

  /** Its expiresAt passed while it was queued (QueueControl.expireDue). */
  expiredUnclaimed(recipient: Recipient): void {
    this.counts.expired++;
    this.commit.result(recipient);
    this.commit.progress();
  }

  /** The line has not sent it: requeue it for another line, or fail it (policy). */
  giveUp(held: Recipient, reason: string): void {
    const stored = this.stillClaimed(held);
    if (stored === null) return;
    const line = held.line as string;
    const disposition = afterLineGaveUp(stored, line, reason, this.options.maxAttempts, this.configuredLines(stored));
    if (disposition.action === 'fail') return this.failed(held, disposition.reason);
    this.outbox.requeue(held.messageId, line);
    this.counts.requeued++;
    this.requeued();
    this.commit.progress();
  }

  private finished(recipient: Recipient, state: 'sent' | 'failed'): void {
    this.counts[state]++;
    this.commit.result(recipient);
    this.commit.progress();
  }

  /**
   * The stored recipient when it is still claimed exactly as `held` (same line, sendId, telId);
   * null for a late or duplicated reply about a number that has moved on.
   */
  private stillClaimed(held: Recipient): Recipient | null {
    const stored = this.outbox.get(held.messageId);
    if (stored?.state === 'claimed' && stored.line === held.line && stored.sendId === held.sendId && stored.telId === held.telId) {
      return stored;
    }
    this.counts.lateResults++;
    return null;
  }
}

export function resumableSessions(outbox: Outbox, configured: ConfiguredLines, fleet: FleetHooks, outcomes: RecipientOutcomes): Recipient[][] {
  for (const recipient of outbox.failUnsendable(configured.lines().map((info) => info.id))) outcomes.failedUnclaimed(recipient);
  const routable = fleet.routableGroups();
  if (routable !== undefined) for (const recipient of outbox.failUnroutable(routable)) outcomes.failedUnclaimed(recipient);
  const resumable: Recipient[] = [];
  for (const recipient of outbox.claimedRecipients()) {
    const { line, sendId, telId } = recipient;
    if (line === null || sendId === null || telId === null) continue;
    if (configured.line(line) === undefined) outcomes.giveUp(recipient, 'line no longer configured');
    else resumable.push(recipient);
  }
  return claimedBySession(resumable);
}

/** Numbers claimed before a restart, one group per session they were claimed in (line, sendid). */
function claimedBySession(claimed: Iterable<Recipient>): Recipient[][] {
  const groups = new Map<string, Recipient[]>();
  for (const recipient of claimed) {
    const key = sessionKey(recipient.line as string, recipient.sendId as number);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [recipient]);
    else group.push(recipient);
  }
  return [...groups.values()];
}

function sessionKey(line: string, sendId: number): string {
  return `${line}\u0000${sendId}`;
}
