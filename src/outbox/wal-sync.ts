/**
 * Commits that reach the disk off the event loop. The store runs WAL with synchronous=FULL: a
 * commit returns once its WAL frames are fsynced, and the whole process waits for the disk. A
 * commit made here runs at synchronous=NORMAL instead (its frames are written to the WAL file, not
 * synced) and is followed by fdatasync of that file on libuv's threadpool; `durable` is told once
 * that returns. The frames are then on the disk exactly as FULL would have left them, but the loop
 * went on meanwhile. A sync covers every commit made before it started: commits that finish while
 * syncs run share the next one (a group commit of group commits).
 */
import fs from 'node:fs';
import type { Connection } from './sqlite-driver';

export type Durable = (err: Error | null) => void;
type Fdatasync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

/**
 * Syncs in flight at once. A sync covers every commit made before it started, so a commit waits for
 * one sync, not for the one running and then its own; two leave the threadpool's other two threads
 * to the rest of the process.
 */
const MAX_SYNCS = 2;

interface Waiting {
  seq: number;
  durable: Durable;
}

export class WalSync {
  private fd: number | null = null;
  /** Commits made so far, and the last of them a sync has been started for. */
  private committed = 0;
  private covered = 0;
  private running = 0;
  private waiting: Waiting[] = [];
  private closed = false;
  /** A commit of unsynced() may not be on the disk yet. */
  private unsyncedCommits = false;

  constructor(
    private readonly db: Connection,
    /** The WAL file; null for a store in memory (nothing to sync: durable at once). */
    private readonly walFile: string | null,
    private readonly fdatasync: Fdatasync = (fd, done) => fs.fdatasync(fd, done),
  ) {}

  /**
   * Runs `commit` (one top-level transaction) without waiting for the disk and tells `durable`
   * once it is there. Throws what `commit` throws (then `durable` is never told).
   */
  commit<T>(commit: () => T, durable: Durable): T {
    if (this.closed) throw new Error('store: closed');
    if (this.walFile === null) {
      const result = commit();
      durable(null);
      return result;
    }
    // SQLite applies this pragma when it prepares it: a statement prepared once would not switch.
    this.db.exec('PRAGMA synchronous = NORMAL');
    let result: T;
    try {
      result = commit();
    } finally {
      this.db.exec('PRAGMA synchronous = FULL');
    }
    this.waiting.push({ seq: ++this.committed, durable });
    if (this.running < MAX_SYNCS) this.sync();
    return result;
  }

  /** A commit was made at synchronous=NORMAL outside commit(): the next syncNow() puts it on the disk. */
  markUnsynced(): void {
    // A store in memory has nothing to sync.
    if (this.walFile !== null) this.unsyncedCommits = true;
  }

  /** Syncs the WAL file on this thread when an unsynced commit was made since the last time. */
  syncNow(): void {
    if (!this.unsyncedCommits) return;
    if (this.closed) throw new Error('store: closed');
    fs.fdatasyncSync(this.open());
    this.unsyncedCommits = false;
  }

  /** Syncs what still waits on this thread and tells it; the store closes right after. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiting = this.waiting;
    this.waiting = [];
    let error: Error | null = null;
    if (waiting.length > 0 || this.unsyncedCommits) {
      try {
        fs.fdatasyncSync(this.open());
      } catch (err) {
        error = err as Error;
      }
    }
    // A sync still running on the threadpool closes the file when it returns.
    if (this.running === 0) this.closeFile();
    for (const { durable } of waiting) durable(error);
  }

  private sync(): void {
    const upTo = this.committed;
    this.covered = upTo;
    let fd: number;
    try {
      fd = this.open();
    } catch (err) {
      this.tell(upTo, err as Error);
      return;
    }
    this.running++;
    this.fdatasync(fd, (err) => {
      this.running--;
      if (this.closed) {
        if (this.running === 0) this.closeFile();
        return;
      }
      this.tell(upTo, err);
      if (this.covered < this.committed && this.running < MAX_SYNCS) this.sync();
    });
  }

  /** Tells the commits up to `upTo` (in commit order; a later sync may return first and cover them). */
  private tell(upTo: number, err: Error | null): void {
    let told = 0;
    while (told < this.waiting.length && this.waiting[told].seq <= upTo) told++;
    if (told === 0) return;
    const done = this.waiting.splice(0, told);
    for (const { durable } of done) durable(err);
  }
  private open(): number {
    this.fd ??= fs.openSync(this.walFile as string, 'r+');
    return this.fd;
  }

  private closeFile(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * The send engine's unit of work as one transaction: its calls share it (one WAL append, as one
 * commit of the whole unit did), and it commits at synchronous=NORMAL when the unit asks for
 * durability (WalSync.syncNow follows) or when anyone else needs the connection.
 */
export class UnitTransaction {
  private open = false;
  /** One of the unit's calls runs. */
  calling = false;
  private changesAtBegin = 0;

  constructor(
    private readonly db: Connection,
    private readonly walSync: WalSync,
    /** SQLite's total_changes(): a unit that changed nothing needs no sync. */
    private readonly totalChanges: () => number,
  ) {}

  call<T>(work: () => T): T {
    if (!this.open) {
      // The safety level cannot change inside a transaction: NORMAL from its start.
      this.db.exec('PRAGMA synchronous = NORMAL');
      this.db.exec('BEGIN');
      this.open = true;
      this.changesAtBegin = this.totalChanges();
    }
    this.calling = true;
    try {
      return work();
    } finally {
      this.calling = false;
    }
  }

  /** Commits the open unit without waiting for the disk (rolled back when the commit fails). */
  commit(): void {
    if (!this.open) return;
    this.open = false;
    const changed = this.totalChanges() !== this.changesAtBegin;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // SQLite rolled it back itself.
      }
      throw err;
    } finally {
      this.db.exec('PRAGMA synchronous = FULL');
    }
    if (changed) this.walSync.markUnsynced();
  }
}
