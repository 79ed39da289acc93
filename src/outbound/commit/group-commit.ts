/**
 * Group commit: everything the engine does in reaction to one thing (the replies read in one loop
 * turn, a timer, a fill pass) is one unit of work. Its store calls are awaited (the store port is
 * asynchronous), then the store is made durable, and only then do the datagrams and results it
 * produced leave: one fsync serves a burst of replies, and nothing leaves that was not stored
 * first. Units run one after the other, so the engine's state changes in one unit at a time.
 * ServerLink is the lines as the socket knows them, for the sessions: their datagrams leave
 * through the group commit.
 */
import type { Recipient, SendStore } from '../../outbox/types';
import type { GoipServer } from '../../link/goip-server';
import type { LineLink } from '../session/ports';

/** Where a unit of work's output goes once it is committed. */
export interface CommitOutput {
  datagram(line: string, datagram: string): void;
  result(recipient: Recipient): void;
  progress(): void;
}

/** What a unit of work produced and still waits for, released after its commit. */
interface Unit {
  datagrams: Array<[line: string, datagram: string]>;
  results: Recipient[];
  progress: boolean;
  /** Store calls (and what follows them) the unit waits for before it commits. */
  pending: Array<Promise<unknown>>;
  failure: { error: unknown } | null;
}

export class GroupCommit {
  /** The unit of work running or committing; null between units. */
  private unit: Unit | null = null;
  /** The unit's own synchronous part is running: a nested run joins it. */
  private working = false;
  /** Work that came while a unit was committing: each runs as its own unit, in order. */
  private readonly queued: Array<() => void> = [];
  /**
   * Results of units whose commit failed after their store calls were made: stored, not yet known
   * to be on the disk. The next commit that succeeds covers them, and they leave with its own.
   */
  private carried: Recipient[] = [];

  constructor(
    private readonly store: Pick<SendStore, 'durable'>,
    private readonly output: CommitOutput,
    /** A store call or the commit failed: none of the unit's datagrams left (its results wait for the next commit). */
    private readonly failed: (err: unknown) => void,
  ) {}

  /**
   * Runs `work` as one unit of work (inside a running unit: as part of it; while another commits:
   * after it). Its datagrams and results leave after the commit, or not at all when it fails.
   */
  run(work: () => void): void {
    if (this.working) return work();
    if (this.unit !== null) {
      this.queued.push(work);
      return;
    }
    const unit: Unit = { datagrams: [], results: [], progress: false, pending: [], failure: null };
    this.unit = unit;
    this.working = true;
    try {
      work();
    } catch (error) {
      unit.failure = { error };
    } finally {
      this.working = false;
    }
    void this.commit(unit);
  }

  /** The unit waits for `promise` (a store call and what follows it) before it commits. */
  track(promise: Promise<unknown>): void {
    if (this.unit !== null) this.unit.pending.push(promise);
    else promise.catch((err: unknown) => this.failed(err));
  }

  send(line: string, datagram: string): void {
    if (this.unit === null) this.output.datagram(line, datagram);
    else this.unit.datagrams.push([line, datagram]);
  }

  result(recipient: Recipient): void {
    if (this.unit === null) this.output.result(recipient);
    else this.unit.results.push(recipient);
  }

  /** Something changed: one progress report after the commit. */
  progress(): void {
    if (this.unit === null) this.output.progress();
    else this.unit.progress = true;
  }

  private async commit(unit: Unit): Promise<void> {
    // Everything the unit started settles first: a call that follows another is tracked by it.
    while (unit.pending.length > 0) {
      const pending = unit.pending;
      unit.pending = [];
      for (const outcome of await Promise.allSettled(pending)) {
        if (outcome.status === 'rejected') unit.failure ??= { error: outcome.reason };
      }
    }
    if (unit.failure === null) {
      try {
        await this.store.durable();
      } catch (error) {
        unit.failure = { error };
      }
    }
    this.unit = null;
    if (unit.failure !== null) {
      this.carried.push(...unit.results);
      this.failed(unit.failure.error);
    } else {
      this.release(unit);
    }
    const next = this.queued.shift();
    if (next !== undefined) this.run(next);
  }

  private release(unit: Unit): void {
    const carried = this.carried;
    this.carried = [];
    for (const [line, datagram] of unit.datagrams) this.output.datagram(line, datagram);
    for (const recipient of carried) this.output.result(recipient);
    for (const recipient of unit.results) this.output.result(recipient);
    if (unit.progress || carried.length > 0) this.output.progress();
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
