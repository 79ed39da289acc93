/**
 * Command sendids. Bulk sessions draw theirs from the outbox (1..999 999 per line); commands use
 * the disjoint range from COMMAND_SEND_ID_MIN, so a reply can never be taken for the other's: one
 * per-line sendid space, two owners. Within the range ids rise per line and start from the clock
 * (seconds since 2023-11), so a restarted server does not reuse recent ids: the device answers a
 * repeated sendid from memory (commands) or its USSD cache (any sendid <= the last one).
 */

export const COMMAND_SEND_ID_MIN = 1_000_000;
/** Devices parse the sendid as a signed 32-bit integer at best. */
export const COMMAND_SEND_ID_MAX = 2_147_483_647;
const CLOCK_EPOCH_S = 1_700_000_000;

export function isCommandSendId(sendId: number): boolean {
  return Number.isInteger(sendId) && sendId >= COMMAND_SEND_ID_MIN && sendId <= COMMAND_SEND_ID_MAX;
}

export class CommandSendIds {
  private readonly last = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  next(line: string): number {
    const floor = COMMAND_SEND_ID_MIN + Math.max(0, Math.floor(this.now() / 1000) - CLOCK_EPOCH_S);
    let id = Math.max((this.last.get(line) ?? 0) + 1, floor);
    if (id > COMMAND_SEND_ID_MAX) id = COMMAND_SEND_ID_MIN;
    this.last.set(line, id);
    return id;
  }
}
