/** Starts N simulated lines against one server, named <idPrefix>01, <idPrefix>02, ... */
import { Ledger } from './ledger';
import { SimLine } from './line';
import type { SimLineOptions } from './options';

export interface FleetOptions extends Omit<SimLineOptions, 'id' | 'password' | 'ledger'> {
  count: number;
  /** Default 'goip'. */
  idPrefix?: string;
  /** One password for every line ... */
  password?: string;
  /** ... or one per line, by index. */
  passwords?: readonly string[];
  /** Shared by every line; default a new one. */
  ledger?: Ledger;
}

export interface SimFleet {
  readonly lines: readonly SimLine[];
  readonly ledger: Ledger;
  line(id: string): SimLine | undefined;
  /** Resolves once every line has had an ok keepalive ack; rejects after `timeoutMs` when given. */
  waitRegistered(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** `goip01`, `goip02`, ... (more digits once there are 100 lines or more). */
export function lineIds(count: number, idPrefix = 'goip'): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `${idPrefix}${String(i + 1).padStart(width, '0')}`);
}

export async function startLines(options: FleetOptions): Promise<SimFleet> {
  const { count, idPrefix, password, passwords, ledger: givenLedger, ...common } = options;
  const ledger = givenLedger ?? new Ledger();
  const lines = lineIds(count, idPrefix).map((id, i) => {
    const linePassword = passwords?.[i] ?? password;
    if (linePassword === undefined) throw new Error(`no password for line ${id}`);
    // Each line draws its own fault stream, still fixed by the fleet's seed.
    const faults = common.faults === undefined ? undefined : { ...common.faults, seed: (common.faults.seed ?? 1) + i * 7919 };
    return new SimLine({ ...common, faults, id, password: linePassword, ledger });
  });
  try {
    await Promise.all(lines.map((line) => line.start()));
  } catch (err) {
    await Promise.all(lines.map((line) => line.stop()));
    throw err;
  }
  return {
    lines,
    ledger,
    line: (id) => lines.find((line) => line.id === id),
    waitRegistered: (timeoutMs) => waitAllRegistered(lines, timeoutMs),
    stop: async () => {
      await Promise.all(lines.map((line) => line.stop()));
    },
  };
}

function waitAllRegistered(lines: readonly SimLine[], timeoutMs?: number): Promise<void> {
  const each = lines.map((line) =>
    line.registered ? Promise.resolve() : new Promise<void>((resolve) => line.once('registered', () => resolve())),
  );
  const all = Promise.all(each).then(() => undefined);
  if (timeoutMs === undefined) return all;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      const missing = lines.filter((line) => !line.registered).map((line) => line.id);
      reject(new Error(`lines not registered within ${timeoutMs} ms: ${missing.join(', ')}`));
    }, timeoutMs);
    void all.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
