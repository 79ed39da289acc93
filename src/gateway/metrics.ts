/**
 * Prometheus metrics of one gateway, in a registry of its own (never prom-client's global one, so
 * nothing leaks from one goip-config to the next across redeploys). Counters follow the gateway's
 * event stream and the send results; gauges and the datagram counts are read from the server and
 * the outbox when scraped. No message text and no password ever becomes a label.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Recipient } from '../outbox/types';
import type { DeliveryPayload, GoipEvent, ServerCounters } from '../link';
import type { GoipGateway } from './gateway';

/** goip_datagrams_total{kind}: the server's counters by kind, `out` counted from the datagrams it sends. */
const DATAGRAM_KINDS: ReadonlyArray<[kind: string, counter: keyof ServerCounters]> = [
  ['in', 'datagrams'],
  ['invalid', 'invalid'],
  ['rejected', 'rejected'],
  ['duplicate', 'duplicates'],
  ['stray', 'strayReplies'],
  ['send_error', 'sendErrors'],
];

/** From well under a millisecond (the normal case) to the device's 3 s resend. */
const ACK_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly detach: Array<() => void> = [];

  constructor(gateway: GoipGateway) {
    const registers = [this.registry];
    const server = gateway.server;
    const lineIds = (): string[] => server.lines().map((line) => line.id);

    new Gauge({
      name: 'goip_line_up',
      help: 'Whether the line is online (1) or offline (0).',
      labelNames: ['line'],
      registers,
      collect() {
        for (const line of server.lines()) this.set({ line: line.id }, line.online ? 1 : 0);
      },
    });
    new Gauge({
      name: 'goip_line_signal_dbm',
      help: 'Signal strength the line reported in its last keepalive, in dBm (lines that never reported one are left out).',
      labelNames: ['line'],
      registers,
      collect() {
        this.reset();
        for (const line of server.lines()) if (line.signalDbm !== null) this.set({ line: line.id }, line.signalDbm);
      },
    });
    const received = this.perLineCounter('goip_sms_received_total', 'SMS received, as flows get them (a long SMS joined from parts counts once).', lineIds());
    const sent = this.perLineCounter('goip_sms_sent_total', 'SMS the line sent (recipients reaching the sent state).', lineIds());
    const failed = this.perLineCounter('goip_sms_failed_total', 'Recipients that failed for good, by the line that tried last (empty: none did).', lineIds());
    const deliveries = new Counter({
      name: 'goip_delivery_reports_total',
      help: 'Delivery reports received, by line and status (delivered, pending, failed).',
      labelNames: ['line', 'status'],
      registers,
    });
    const store = gateway.store;
    new Gauge({
      name: 'goip_queue_recipients',
      help: 'Recipients in the durable outbox by state: queued (waiting) and claimed (being sent).',
      labelNames: ['state'],
      registers,
      async collect() {
        if (store === null) return;
        const [queued, claimed] = await Promise.all([store.outbox.queuedCount(), store.outbox.claimedCount()]);
        this.set({ state: 'queued' }, queued);
        this.set({ state: 'claimed' }, claimed);
      },
    });
    new Gauge({
      name: 'goip_sms_parts_held',
      help: 'Parts of long SMS waiting for their continuation.',
      registers,
      collect() {
        this.set(gateway.parts.heldCount);
      },
    });
    let datagramsOut = 0;
    const seen = new Map<string, number>();
    new Counter({
      name: 'goip_datagrams_total',
      help: 'UDP datagrams by kind: in (read), out (sent), invalid, rejected (bad id or password), duplicate (resent reports), stray (replies from no line), send_error.',
      labelNames: ['kind'],
      registers,
      collect() {
        const counts: Array<[string, number]> = [...DATAGRAM_KINDS.map(([kind, key]): [string, number] => [kind, server.counters[key]]), ['out', datagramsOut]];
        for (const [kind, count] of counts) {
          this.inc({ kind }, count - (seen.get(kind) ?? 0));
          seen.set(kind, count);
        }
      },
    });
    const ackSeconds = new Histogram({
      name: 'goip_report_ack_seconds',
      help: 'Time from reading a device report to sending its ack.',
      buckets: ACK_BUCKETS_S,
      registers,
    });

    this.listen(gateway, 'event', (event: GoipEvent) => {
      if (event.event === 'sms') received.inc({ line: event.line });
      else if (event.event === 'delivery') deliveries.inc({ line: event.line, status: (event.payload as DeliveryPayload).status });
    });
    this.listen(server, 'datagramOut', () => {
      datagramsOut++;
    });
    this.listen(server, 'reportAcked', (_line: string, _verb: string, seconds: number) => ackSeconds.observe(seconds));
    if (gateway.sender !== null) {
      this.listen(gateway.sender, 'result', (recipient: Recipient) => {
        (recipient.state === 'sent' ? sent : failed).inc({ line: recipient.line ?? '' });
      });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops following the gateway and empties the registry. */
  close(): void {
    for (const off of this.detach.splice(0)) off();
    this.registry.clear();
  }

  /** A counter by line, every configured line at 0 from the start (so rates work from the first scrape). */
  private perLineCounter(name: string, help: string, lines: readonly string[]): Counter<'line'> {
    const counter = new Counter({ name, help, labelNames: ['line'], registers: [this.registry] });
    for (const line of lines) counter.inc({ line }, 0);
    return counter;
  }

  private listen<A extends unknown[]>(emitter: { on(name: string, fn: (...args: A) => void): unknown; off(name: string, fn: (...args: A) => void): unknown }, name: string, fn: (...args: A) => void): void {
    emitter.on(name, fn);
    this.detach.push(() => emitter.off(name, fn));
  }
}
