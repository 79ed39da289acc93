/**
 * On a shared store: this instance's hold on the lines registered to it. Every interval (a third of
 * the lease, so one lost renewal does not let a line go) the lines online here are renewed in one
 * statement. A line that is newly this instance's (taken over once another instance's lease lapsed,
 * or given up by one that stopped) is told to `taken`: the engine then resumes the numbers claimed
 * on it in sessions it does not run, under their sendid, so the GoIP answers with what it already sent.
 */

/** The part of the line presence (src/outbox/postgres/pg-presence.ts) the lease uses. */
export interface PresencePort {
  renew(lines: readonly string[]): Promise<ReadonlyMap<string, string | null>>;
}

export interface LineLeaseDeps {
  presence: PresencePort;
  /** The lines online at this instance's server now. */
  onlineLines: () => string[];
  /** Lines that became this instance's since the last renewal. */
  taken: (lines: string[]) => void;
  /** A renewal failed (the store is down): the next one tries again. */
  warn: (err: unknown) => void;
}

export class LineLease {
  private readonly owned = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;

  constructor(
    private readonly deps: LineLeaseDeps,
    private readonly leaseMs: number,
  ) {}

  /** A third of the lease: one lost renewal does not let a line go. */
  get renewEveryMs(): number {
    return Math.max(1, Math.floor(this.leaseMs / 3));
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.renewNow(), this.renewEveryMs);
    void this.renewNow();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The lines this instance holds after the last renewal. */
  lines(): string[] {
    return [...this.owned];
  }

  /** Renews now (one renewal at a time: a call while one runs waits for it). */
  renewNow(): Promise<void> {
    this.renewing ??= this.renew().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private async renew(): Promise<void> {
    let held: ReadonlyMap<string, string | null>;
    try {
      held = await this.deps.presence.renew(this.deps.onlineLines());
    } catch (err) {
      this.deps.warn(err);
      return;
    }
    const taken = [...held.keys()].filter((line) => !this.owned.has(line)).sort();
    this.owned.clear();
    for (const line of held.keys()) this.owned.add(line);
    if (taken.length > 0) this.deps.taken(taken);
  }
}
