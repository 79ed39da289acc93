/**
 * Group commit: everything the engine does in reaction to one thing (the replies read in one loop
 * turn, a timer, a fill pass) is one unit of work: one outbox commit, after which the datagrams
 * and results it produced leave. One fsync serves a burst of replies, and nothing leaves that
 * was not committed first. ServerLink is the lines as the socket knows them, for the sessions:
 * their datagrams leave through the group commit.
 */
import type { Outbox, Recipient } from '../../outbox/types';
import type { GoipServer } from '../../link/goip-server';
import type { LineLink } from '../session/ports';

/** Where a unit of work's output goes once it is committed. */
export interface CommitOutput {
  datagram(line: string, datagram: string): void;
  result(recipient: Recipient): void;
  progress(): void;
}

/** What a unit of work produced, released after its commit. */
interface HeldOutput {
  datagrams: Array<[line: string, datagram: string]>;
  results: Recipient[];
  progress: boolean;
}

export class GroupCommit {
  /** What the running unit of work produced; null outside one. */
  private held: HeldOutput | null = null;

  constructor(
    private readonly outbox: Outbox,
    private readonly output: CommitOutput,
    /** The commit failed: nothing of the unit left; the claims behind it are not stored. */
    private readonly failed: (err: unknown) => void,
  ) {}

  /**
   * Runs `work` as one outbox commit (inside a running unit: as part of it); the datagrams and
   * results it produced leave after the commit, or not at all when the commit fails.
   */
  run(work: () => void): void {
    if (this.held !== null) return work();
    const held: HeldOutput = { datagrams: [], results: [], progress: false };
    this.held = held;
    try {
      this.outbox.transaction(work);
    } catch (err) {
      this.held = null;
      this.failed(err);
      return;
    }
    this.held = null;
    for (const [line, datagram] of held.datagrams) this.output.datagram(line, datagram);
    for (const recipient of held.results) this.output.result(recipient);
    if (held.progress) this.output.progress();
  }

  send(line: string, datagram: string): void {
    if (this.held === null) this.output.datagram(line, datagram);
    else this.held.datagrams.push([line, datagram]);
  }

  result(recipient: Recipient): void {
    if (this.held === null) this.output.result(recipient);
    else this.held.results.push(recipient);
  }

  /** Something changed: one progress report after the commit. */
  progress(): void {
    if (this.held === null) this.output.progress();
    else this.held.progress = true;
  }
}

export class ServerLink implements LineLink {
  constructor(
    private readonly server: GoipServer,
    private readonly commit: GroupCommit,
  ) {}

  send(line: string, datagram: string): void {
    this.commit.send(line, datagram);
  }

  password(line: string): string {
    return this.server.passwordOf(line) ?? '';
  }

  heardSince(line: string, since: number): boolean {
    const lastSeen = this.server.line(line)?.lastSeen ?? null;
    return lastSeen !== null && lastSeen > since;
  }

  online(line: string): boolean {
    return this.server.line(line)?.online === true;
  }
}
