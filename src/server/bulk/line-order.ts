/**
 * The order the engine offers lines new sessions in (goip-config `linePolicy`). With more numbers
 * than lines every allowed line works whatever the order; the policy decides who gets work when
 * there is less of it than idle lines. Pure: the caller gives the usage and the random source.
 */

export type LinePolicy = 'spread' | 'roundrobin' | 'random' | 'leastUsed';

export const LINE_POLICIES: readonly LinePolicy[] = ['spread', 'roundrobin', 'random', 'leastUsed'];

export class LineOrder {
  /** The line that opened the last session (roundrobin starts after it). */
  private last: string | null = null;

  constructor(
    private readonly policy: LinePolicy,
    private readonly random: () => number,
  ) {}

  /** `ids` (the configured order) in the order to offer them work; `usedToday` only for leastUsed. */
  order<T extends { id: string }>(lines: readonly T[], usedToday: (id: string) => number): T[] {
    switch (this.policy) {
      case 'spread':
        return [...lines];
      case 'roundrobin': {
        const after = this.last === null ? -1 : lines.findIndex((line) => line.id === this.last);
        return [...lines.slice(after + 1), ...lines.slice(0, after + 1)];
      }
      case 'random':
        return shuffled(lines, this.random);
      case 'leastUsed': {
        const used = new Map(lines.map((line) => [line.id, usedToday(line.id)]));
        return [...lines].sort((a, b) => (used.get(a.id) as number) - (used.get(b.id) as number));
      }
    }
  }

  opened(id: string): void {
    this.last = id;
  }
}

/** Fisher-Yates. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
