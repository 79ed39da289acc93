/**
 * The send engine's store port as a store across the network answers it: every call, and the
 * commit, settles only after a round trip (a timer of `delayMs`), so the engine's other work goes
 * on while it waits.
 */
import type { SendStore } from '../../src/outbox/types';

export function slowStore(inner: SendStore, delayMs: number): SendStore {
  const roundTrip = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, delayMs));
  return new Proxy(inner, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await roundTrip();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
