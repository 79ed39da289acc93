/** Why a queued recipient fails without being sent: the same words from every Outbox. Pure. */

/** Why a queued recipient cannot go (Outbox.failUnsendable). */
export function unsendableReason(pinnedLine: string | null, lines: readonly string[]): string {
  return pinnedLine !== null && !lines.includes(pinnedLine)
    ? `line ${pinnedLine} is no longer configured (batch pinned to it)`
    : 'no configured line left that has not tried it';
}

/** Why a queued recipient of a routing group no configured line belongs to cannot go (Outbox.failUnroutable). */
export function unroutableReason(group: string): string {
  return group === '' ? 'no configured line is outside the routing groups' : `no configured line is in routing group "${group}"`;
}

/** The `error` of a recipient that ended without going on the air. */
export const QUEUE_REASONS = {
  expired: 'expired before it went on the air',
  cancelled: 'cancelled',
  blocked: 'the number is on the block list',
} as const;
