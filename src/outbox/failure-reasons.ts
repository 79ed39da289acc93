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
