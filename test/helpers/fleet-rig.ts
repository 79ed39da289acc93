/**
 * A fleet of simulated lines against one GoipServer + BulkSender on loopback (the fleet tests and
 * bench/fleet.ts): working lines goip01.., then mute ones (they keep alive but never answer a bulk
 * session), an outbox, and the results as they come. Optionally on FakeTime.
 */
import type { Outbox, Recipient, SendStore } from '../../src/outbox/types';
import { sendPortOf, SqliteOutbox } from '../../src/outbox';
import { GoipServer } from '../../src/link';
import { type BulkOptions, BulkSender, type FleetHooks, type LineHealthEvent } from '../../src/outbound';
import { Ledger, lineIds, SimLine, type SimLineOptions } from '../../src/sim';
import { FakeTime } from './fake-time';

const PASSWORD = 'fleetpw';

export interface FleetRigOptions {
  working: number;
  mute?: number;
  sim?: Partial<SimLineOptions>;
  /** Options of line i (0-based) over `sim`. */
  perLine?: (index: number) => Partial<SimLineOptions>;
  bulk?: Partial<BulkOptions>;
  fleet?: Partial<FleetHooks>;
  fakeTime?: boolean;
  outbox?: Outbox;
  /** The engine's store port over the outbox (default: the outbox's own, resolving in the same turn). */
  store?: (outbox: Outbox) => SendStore;
}

export interface FleetRig {
  server: GoipServer;
  sender: BulkSender;
  outbox: Outbox;
  lines: SimLine[];
  ledger: Ledger;
  health: Array<{ event: 'quarantine' | 'recovered' } & LineHealthEvent>;
  time: FakeTime | null;
  ids: string[];
  /** Enqueues `numbers` as one batch; `groups[i]` is number i's routing group. */
  enqueue(numbers: readonly string[], groups?: readonly string[]): string[];
  /** Resolves with the next `count` results. */
  results(count: number): Promise<Recipient[]>;
  stop(): Promise<void>;
}

let batches = 0;

export async function startFleetRig(options: FleetRigOptions): Promise<FleetRig> {
  const ids = lineIds(options.working + (options.mute ?? 0));
  const time = options.fakeTime === true ? new FakeTime() : null;
  const server = new GoipServer({ bind: '127.0.0.1', port: 0, devices: ids.map((id) => ({ id, password: PASSWORD })) });
  let datagramsOut = 0;
  server.on('datagramOut', () => datagramsOut++);
  time?.drive(() => server.counters.datagrams + datagramsOut);
  const { port } = await server.start();
  const ledger = new Ledger();
  const lines = ids.map(
    (id, i) =>
      new SimLine({
        id,
        password: PASSWORD,
        server: { host: '127.0.0.1', port },
        ledger,
        muteBulk: i >= options.working,
        ...options.sim,
        ...options.perLine?.(i),
      }),
  );
  const online = new Promise<void>((resolve) => {
    const seen = new Set<string>();
    server.on('event', (e) => {
      if (e.event === 'online') seen.add(e.line);
      if (seen.size === ids.length) resolve();
    });
  });
  await Promise.all(lines.map((line) => line.start()));
  await online;
  const outbox = options.outbox ?? SqliteOutbox.open(':memory:', { now: () => Date.now() });
  const sender = new BulkSender(server, (options.store ?? sendPortOf)(outbox), options.bulk, options.fleet);
  const health: FleetRig['health'] = [];
  sender.on('quarantine', (e) => health.push({ event: 'quarantine', ...e }));
  sender.on('recovered', (e) => health.push({ event: 'recovered', ...e }));
  const waiting: Array<{ count: number; got: Recipient[]; resolve: (r: Recipient[]) => void }> = [];
  sender.on('result', (r) => {
    const first = waiting[0];
    if (first === undefined) return;
    first.got.push(r);
    if (first.got.length < first.count) return;
    waiting.shift();
    first.resolve(first.got);
  });
  sender.start();
  return {
    server,
    sender,
    outbox,
    lines,
    ledger,
    health,
    time,
    ids,
    enqueue(numbers, groups) {
      const batch = ++batches;
      const recipients = numbers.map((number, i) => ({ messageId: `f${batch}-${i}`, number, group: groups?.[i] }));
      outbox.enqueue({ batchId: `fb${batch}`, text: `fleet ${batch}`, line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients });
      sender.kick();
      return recipients.map((r) => r.messageId);
    },
    results: (count) => new Promise((resolve) => waiting.push({ count, got: [], resolve })),
    async stop() {
      await sender.stop();
      await Promise.all(lines.map((line) => line.stop()));
      await server.stop();
      await time?.restore();
      outbox.close();
    },
  };
}

/** `count` distinct numbers +<prefix>000.. of `digits` digits. */
export function numbers(prefix: string, count: number, digits = 12): string[] {
  return Array.from({ length: count }, (_, i) => `+${prefix}${String(i).padStart(digits - prefix.length, '0')}`);
}
