/**
 * This gateway as one instance of several on a shared store: it holds the lines registered to it
 * (LineLease: renewed a third of the lease apart, and at once when a line comes online), tells the
 * others which lines and groups it is configured for, resumes the sessions of lines it took over
 * from an instance whose lease lapsed, adopts that instance's untaken inbox rows for its own
 * goip-in nodes and the results it left untaken for the goip-send nodes of the same id here, and
 * starts sending when another instance queued work. While the store does not
 * answer, `failure` says why (the status turns red); it clears at the next answer.
 */
import type { GoipServer } from '../link';
import type { StoreCluster } from '../outbox/store-ports';
import { LineLease } from './line-lease';

export interface ClusterDeps {
  server: GoipServer;
  /** The lines configured here and the routing groups they may send (null: no groups). */
  configured: () => { lines: string[]; groups: string[] | null };
  /** Lines newly this instance's: their claimed numbers are resumed. */
  taken: (lines: string[]) => void;
  /** Another instance queued work. */
  work: () => void;
  /** An instance's lease lapsed (its inbox rows became this one's): the flow's consumers read the store again. */
  lapsed: () => void;
  /** The store's health changed. */
  health: () => void;
  warn: (err: unknown) => void;
}

export class ClusterMember {
  private readonly lease: LineLease;
  private timer: NodeJS.Timeout | null = null;
  private failed: Error | null = null;
  private running = false;
  private live: ReadonlySet<string> = new Set();

  constructor(
    private readonly cluster: StoreCluster,
    private readonly deps: ClusterDeps,
  ) {
    this.lease = new LineLease(
      {
        presence: cluster,
        onlineLines: () => deps.server.lines().filter((line) => line.online).map((line) => line.id),
        taken: (lines) => deps.taken(lines),
        warn: (err) => this.fail(err),
      },
      cluster.leaseMs,
    );
    cluster.onWork(() => {
      if (this.running) deps.work();
    });
  }

  /** Why the store did not answer the last time, null when it did. */
  get failure(): Error | null {
    return this.failed;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.round();
    this.lease.start();
    this.deps.server.on('lines', this.onLines);
    this.timer = setInterval(() => void this.round(), this.lease.renewEveryMs);
  }

  /** Gives the lines up at once, so another instance need not wait out the lease. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.deps.server.off('lines', this.onLines);
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.lease.stop();
    await this.cluster.release(this.lease.lines()).catch((err: unknown) => this.deps.warn(err));
  }

  private readonly onLines = (): void => {
    void this.lease.renewNow();
  };

  /** Announces the configuration (which renews this instance's lease) and adopts what a lapsed instance left. */
  private async round(): Promise<void> {
    try {
      const { lines, groups } = this.deps.configured();
      await this.cluster.announce(lines, groups);
      const adopted = await this.cluster.adoptOrphans();
      const live = new Set(await this.cluster.liveInstances());
      const lapsed = [...this.live].some((instance) => !live.has(instance));
      this.live = live;
      this.recover();
      if (adopted > 0 || lapsed) this.deps.lapsed();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const changed = this.failed?.message !== error.message;
    this.failed = error;
    this.deps.warn(error);
    if (changed) this.deps.health();
  }

  private recover(): void {
    if (this.failed === null) return;
    this.failed = null;
    this.deps.health();
  }
}
