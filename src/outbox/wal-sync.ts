/**
 * Commits that reach the disk off the event loop. The store runs WAL with synchronous=FULL: a
 * commit returns once its WAL frames are fsynced, and the whole process waits for the disk. A
 * commit made here runs at synchronous=NORMAL instead (its frames are written to the WAL file, not
 * synced) and is followed by fdatasync of that file on libuv's threadpool; `durable` is told once
 * that returns. The frames are then on the disk exactly as FULL would have left them, but the loop
 * went on meanwhile. One sync runs at a time: commits that finish while it runs wait for the next
 * one, which covers them all (a group commit of group commits).
 */
import fs from 'node:fs';
import type { Connection } from './sqlite-driver';

export type Durable = (err: Error | null) => void;
type Fdatasync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

export class WalSync {
  private fd: number | null = null;
  private running = false;
  private waiting: Durable[] = [];
  private closed = false;

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
    this.waiting.push(durable);
    if (!this.running) this.sync();
    return result;
  }

  /** Syncs what still waits on this thread and tells it; the store closes right after. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiting = this.waiting;
    this.waiting = [];
    let error: Error | null = null;
    if (waiting.length > 0 || this.running) {
      try {
        fs.fdatasyncSync(this.open());
      } catch (err) {
        error = err as Error;
      }
    }
    // The sync still running on the threadpool closes the file when it returns.
    if (!this.running) this.closeFile();
    for (const durable of waiting) durable(error);
  }

  private sync(): void {
    const batch = this.waiting;
    this.waiting = [];
    let fd: number;
    try {
      fd = this.open();
    } catch (err) {
      for (const durable of batch) durable(err as Error);
      return;
    }
    this.running = true;
    this.fdatasync(fd, (err) => {
      this.running = false;
      if (this.closed) this.closeFile();
      for (const durable of batch) durable(err);
      if (!this.closed && this.waiting.length > 0) this.sync();
    });
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
