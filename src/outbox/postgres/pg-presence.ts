/**
 * Which instance each line is registered to, and what each instance is configured for. An
 * instance renews the lines it hears in one statement per round (not per keepalive), which also
 * renews its own lease; a line registered elsewhere is taken over only once that instance's lease
 * has lapsed (its last renewal older than leaseMs), so a line that moved has one owner at a time.
 * What the new owner then takes over (the line's open sessions, its inbox rows) is decided by the
 * callers of `renew`.
 */
import type pg from 'pg';

export interface LineOwner {
  instance: string;
  renewedAt: number;
}

export class LinePresence {
  constructor(
    private readonly pool: pg.Pool,
    private readonly instance: string,
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Registers `lines` to this instance: its own renewed, nobody's taken, another instance's taken
   * only after its lease lapsed. Returns the lines that are this instance's now, with the instance
   * each was taken from (null: it was already this one's, or nobody's).
   */
  async renew(lines: readonly string[]): Promise<Map<string, string | null>> {
    const { rows } = await this.pool.query<{ line: string; previous: string | null }>(
      `WITH before AS (SELECT line, instance FROM line_presence WHERE line = ANY ($1::text[])),
       alive AS (UPDATE instances SET renewed_at = $3 WHERE instance = $2)
       INSERT INTO line_presence AS p (line, instance, renewed_at) SELECT unnest($1::text[]), $2, $3
       ON CONFLICT (line) DO UPDATE SET instance = EXCLUDED.instance, renewed_at = EXCLUDED.renewed_at
         WHERE p.instance = EXCLUDED.instance OR p.renewed_at < EXCLUDED.renewed_at - $4
       RETURNING p.line, (SELECT before.instance FROM before WHERE before.line = p.line AND before.instance <> $2) AS previous`,
      [[...new Set(lines)], this.instance, this.now(), this.leaseMs],
    );
    return new Map(rows.map((row) => [row.line, row.previous]));
  }

  /**
   * This instance's configured lines and routing groups (null: none), as the cluster's other
   * instances read them while its lease holds.
   */
  async announce(lines: readonly string[], groups: readonly string[] | null): Promise<void> {
    await this.pool.query(
      `INSERT INTO instances (instance, lines, groups, renewed_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (instance) DO UPDATE SET lines = EXCLUDED.lines, groups = EXCLUDED.groups, renewed_at = EXCLUDED.renewed_at`,
      [this.instance, [...lines], groups === null ? null : [...groups], this.now()],
    );
  }

  /** Gives `lines` up at once (a clean stop): another instance need not wait for the lease. */
  async release(lines: readonly string[]): Promise<void> {
    await this.pool.query('DELETE FROM line_presence WHERE instance = $1 AND line = ANY ($2::text[])', [this.instance, [...lines]]);
  }

  /** The instances whose lease holds now, this one included once it announced itself. */
  async liveInstances(): Promise<string[]> {
    const { rows } = await this.pool.query<{ instance: string }>('SELECT instance FROM instances WHERE renewed_at >= $1::bigint - $2::bigint ORDER BY instance', [
      this.now(),
      this.leaseMs,
    ]);
    return rows.map((row) => row.instance);
  }

  async owner(line: string): Promise<LineOwner | null> {
    const { rows } = await this.pool.query<{ instance: string; renewed_at: number }>(
      'SELECT instance, renewed_at FROM line_presence WHERE line = $1',
      [line],
    );
    return rows.length === 0 ? null : { instance: rows[0].instance, renewedAt: rows[0].renewed_at };
  }
}
