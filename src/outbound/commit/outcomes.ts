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
import type { Recipient, SendStore } from '../../outbox/types';
import type { GroupCommit } from './group-commit';
import type { BulkOptions, FleetHooks } from '../options';
import { afterLineGaveUp, localDay } from '../lines/policy';
import type { ConfiguredLines } from '../session/ports';

/**
 * Each outcome is stored through the asynchronous store port; the unit of work it happens in waits
 * for it (GroupCommit.track), so its result leaves after the commit.
 */
export class RecipientOutcomes {
  readonly counts = { sent: 0, failed: 0, expired: 0, requeued: 0, lateResults: 0 };

  constructor(
    private readonly store: SendStore,
    private readonly options: BulkOptions,
    private readonly commit: GroupCommit,
    /** The lines configured now that may send the recipient (its routing group's). */
    private readonly configuredLines: (recipient: Recipient) => string[],
    /** A number of `line` went back to the queue, or was sent (the line's count of sends). */
    private readonly changed: (event: 'requeued' | 'sent', line: string) => void,
  ) {}

  sent(held: Recipient, smsNo: number | null): void {
    // Counted at once: the limits see it before the store answers (a late reply counts until the next fill pass reads the store).
    this.changed('sent', held.line as string);
    this.commit.track(this.store.get(held.messageId).then((stored) => this.sentIf(held, stored, smsNo)));
  }

  failed(held: Recipient, reason: string): void {
    this.commit.track(this.store.get(held.messageId).then((stored) => this.failedIf(held, stored, reason)));
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
    this.commit.track(this.store.get(held.messageId).then((stored) => this.giveUpIf(held, stored, reason)));
  }

  private async sentIf(held: Recipient, stored: Recipient | undefined, smsNo: number | null): Promise<void> {
    if (!this.stillClaimed(held, stored)) return;
    this.finished(await this.store.markSent(held.messageId, smsNo, localDay(Date.now())), 'sent');
  }

  private async failedIf(held: Recipient, stored: Recipient | undefined, reason: string): Promise<void> {
    if (this.stillClaimed(held, stored)) this.finished(await this.store.markFailed(held.messageId, reason), 'failed');
  }

  private async giveUpIf(held: Recipient, stored: Recipient | undefined, reason: string): Promise<void> {
    if (!this.stillClaimed(held, stored)) return;
    const line = held.line as string;
    const disposition = afterLineGaveUp(stored, line, reason, this.options.maxAttempts, this.configuredLines(stored));
    if (disposition.action === 'fail') return this.finished(await this.store.markFailed(held.messageId, disposition.reason), 'failed');
    await this.store.requeue(held.messageId, line);
    this.counts.requeued++;
    this.changed('requeued', line);
    this.commit.progress();
  }

  private finished(recipient: Recipient, state: 'sent' | 'failed'): void {
    this.counts[state]++;
    this.commit.result(recipient);
    this.commit.progress();
  }

  /**
   * Whether the stored recipient is still claimed exactly as `held` (same line, sendId, telId);
   * not for a late or duplicated reply about a number that has moved on.
   */
  private stillClaimed(held: Recipient, stored: Recipient | undefined): stored is Recipient {
    if (stored?.state === 'claimed' && stored.line === held.line && stored.sendId === held.sendId && stored.telId === held.telId) return true;
    this.counts.lateResults++;
    return false;
  }
}

export async function resumableSessions(store: SendStore, configured: ConfiguredLines, fleet: FleetHooks, outcomes: RecipientOutcomes): Promise<Recipient[][]> {
  for (const recipient of await store.failUnsendable(configured.lines().map((info) => info.id))) outcomes.failedUnclaimed(recipient);
  const routable = fleet.routableGroups();
  if (routable !== undefined) for (const recipient of await store.failUnroutable(routable)) outcomes.failedUnclaimed(recipient);
  const resumable: Recipient[] = [];
  for (const recipient of await store.claimedRecipients()) {
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
