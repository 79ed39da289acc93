/** Held parts of long SMS in memory, for a gateway without a durable store: they do not survive a restart. */
import type { HeldPart, HeldPartStore } from '../../outbox/types';

export class MemoryHeldParts implements HeldPartStore {
  readonly durable: boolean = false;
  private parts: HeldPart[] = [];

  all(): HeldPart[] {
    return [...this.parts];
  }

  hold(part: HeldPart): void {
    this.parts.push(part);
  }

  release(line: string, from: string): void {
    this.parts = this.parts.filter((part) => part.line !== line || part.from !== from);
  }
}
