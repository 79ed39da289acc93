/** The engine's live sessions, by line and sendid, each also a member of its line's slot. */
import type { Recipient } from '../../outbox/types';
import type { BulkSession } from './bulk-session';
import type { LineScheduler } from './line-scheduler';
import type { SessionOnLine } from './session-ports';

function sessionKey(line: string, sendId: number): string {
  return `${line}\u0000${sendId}`;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, BulkSession>();

  constructor(private readonly lines: LineScheduler) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Numbers of every session not final yet. */
  inFlight(): number {
    let n = 0;
    for (const session of this.sessions.values()) n += session.inFlight;
    return n;
  }

  values(): IterableIterator<BulkSession> {
    return this.sessions.values();
  }

  find(line: string, sendId: number): BulkSession | undefined {
    return this.sessions.get(sessionKey(line, sendId));
  }

  add(session: BulkSession): void {
    this.sessions.set(sessionKey(session.line, session.sendId), session);
    this.lines.slot(session.line).sessions.add(session);
  }

  remove(session: SessionOnLine): void {
    const key = sessionKey(session.line, session.sendId);
    if (this.sessions.get(key) === session) this.sessions.delete(key);
    this.lines.slot(session.line).sessions.delete(session);
  }

  /** Stops and forgets every session (their claimed numbers stay claimed in the outbox). */
  stopAll(): void {
    for (const session of this.sessions.values()) session.stop();
    this.sessions.clear();
    for (const slot of this.lines.all()) slot.sessions.clear();
  }
}

/** Numbers claimed before a restart, one group per session they were claimed in (line, sendid). */
export function claimedBySession(claimed: Iterable<Recipient>): Recipient[][] {
  const groups = new Map<string, Recipient[]>();
  for (const recipient of claimed) {
    const key = sessionKey(recipient.line as string, recipient.sendId as number);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [recipient]);
    else group.push(recipient);
  }
  return [...groups.values()];
}
