/** Waiting on a condition that events make true, bounded by a timeout (a bound on a failure, not a guess). */
import type { EventEmitter } from 'node:events';

/**
 * Resolves once `check()` holds, re-checking on every event of `sources`; rejects with `explain()`
 * after `timeoutMs`.
 */
export function until(check: () => boolean, sources: Array<[EventEmitter, string]>, timeoutMs: number, explain: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEvent = (): void => {
      if (!check()) return;
      finish();
      resolve();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`${explain()} (after ${timeoutMs} ms)`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      for (const [emitter, event] of sources) emitter.off(event, onEvent);
    };
    for (const [emitter, event] of sources) emitter.on(event, onEvent);
    onEvent();
  });
}
