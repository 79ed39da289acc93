/**
 * Event fan-out where listeners cannot hurt the emitter or each other: each listener runs in its
 * own try/catch, and a throw is handed to `failed` instead of unwinding into the caller (the
 * socket's message handler, an ack, the next listener).
 */
import type { EventEmitter } from 'node:events';

export function emitIsolated(
  emitter: EventEmitter,
  name: string,
  args: readonly unknown[],
  failed: (error: Error) => void,
): void {
  // rawListeners: a once() listener removes itself as with emit(); a snapshot, as emit() takes.
  for (const listener of emitter.rawListeners(name) as Array<(...values: unknown[]) => void>) {
    try {
      listener.apply(emitter, args as unknown[]);
    } catch (err) {
      failed(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
