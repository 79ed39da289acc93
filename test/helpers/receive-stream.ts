/**
 * A load generator of inbound SMS for a real Node-RED: one UDP socket per line on 127.0.0.1, each
 * registered with a keepalive, then distinct RECEIVEs (`RECEIVE:<n>;id;password;srcnum;msg:<token>`,
 * report ids unique across lines) offered at a fixed total rate, round-robin over the lines. It
 * records which tokens got their `RECEIVE <n> OK`: what a GoIP would never send again.
 * Unlike src/sim it never resends a report, so the acked set is exactly what the server confirmed.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { formatKeepalive, formatReport, parseServerMessage } from '../../src/protocol';
import { until } from './until';

export interface ReceiveStreamOptions {
  /** Node-RED's goip-config UDP port on 127.0.0.1. */
  port: number;
  lineIds: readonly string[];
  password: string;
  sender?: string;
}

const KEEPALIVE_RETRY_MS = 200;
/** Report ids count down from here, as GoIP firmware counts them from a timestamp. */
const FIRST_REPORT_ID = 1_700_000_000;

export class ReceiveStream extends EventEmitter<{ registered: [string]; progress: [number] }> {
  /** Tokens whose RECEIVE was acked, in ack order. */
  readonly acked = new Set<string>();
  private readonly sockets: dgram.Socket[] = [];
  private readonly registered = new Set<string>();
  /** Report id -> token of every RECEIVE sent. */
  private readonly tokens = new Map<string, string>();
  private keepalive: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private sentCount = 0;

  private constructor(private readonly options: ReceiveStreamOptions) {
    super();
  }

  /** Binds every line's socket and registers them all (keepalives repeated until each is acked). */
  static async start(options: ReceiveStreamOptions, timeoutMs = 20_000): Promise<ReceiveStream> {
    const stream = new ReceiveStream(options);
    try {
      await stream.open();
      await until(
        () => stream.registered.size === options.lineIds.length,
        [[stream, 'registered']],
        timeoutMs,
        () => `${stream.registered.size}/${options.lineIds.length} lines registered`,
      );
    } catch (err) {
      await stream.stop();
      throw err;
    }
    return stream;
  }

  /** RECEIVEs sent so far. */
  get sent(): number {
    return this.sentCount;
  }

  /** Starts offering `perSecond` RECEIVEs in total (open loop: on schedule whatever the acks). */
  run(perSecond: number): void {
    const started = performance.now();
    const alreadySent = this.sentCount;
    const tick = (): void => {
      const due = alreadySent + Math.floor(((performance.now() - started) / 1000) * perSecond);
      while (this.sentCount < due) this.sendOne(this.sentCount % this.sockets.length);
      this.emit('progress', this.sentCount);
      this.ticker = setTimeout(tick, 1);
    };
    tick();
  }

  /** Stops sending and closes the sockets (acks still on their way are not counted). */
  async stop(): Promise<void> {
    if (this.ticker !== null) clearTimeout(this.ticker);
    if (this.keepalive !== null) clearInterval(this.keepalive);
    this.ticker = null;
    this.keepalive = null;
    const sockets = this.sockets.splice(0);
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private async open(): Promise<void> {
    for (const [index, id] of this.options.lineIds.entries()) {
      const socket = dgram.createSocket('udp4');
      this.sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.on('message', (buffer) => this.onMessage(id, buffer.toString('utf8')));
      this.sendKeepalive(index);
    }
    this.keepalive = setInterval(() => {
      this.options.lineIds.forEach((id, index) => {
        if (!this.registered.has(id)) this.sendKeepalive(index);
      });
    }, KEEPALIVE_RETRY_MS);
  }

  private sendKeepalive(index: number): void {
    const id = this.options.lineIds[index];
    const text = formatKeepalive({ count: 1, id, password: this.options.password, fields: { num: '', signal: '25', gsm_status: 'LOGIN', voip_status: 'LOGOUT' } });
    this.sockets[index]?.send(text, this.options.port, '127.0.0.1');
  }

  private sendOne(index: number): void {
    const reportId = String(FIRST_REPORT_ID - this.sentCount);
    const token = `stream-${this.sentCount}`;
    this.sentCount++;
    this.tokens.set(reportId, token);
    const text = formatReport('RECEIVE', reportId, this.options.lineIds[index], this.options.password, { srcnum: this.options.sender ?? '+8613800138000', msg: token });
    this.sockets[index].send(text, this.options.port, '127.0.0.1');
  }

  private onMessage(lineId: string, text: string): void {
    const message = parseServerMessage(text);
    if (message.kind === 'regAck' && message.status === '0' && !this.registered.has(lineId)) {
      this.registered.add(lineId);
      this.emit('registered', lineId);
    } else if (message.kind === 'reportAck' && message.verb === 'RECEIVE' && message.ok) {
      const token = this.tokens.get(message.reportId);
      if (token !== undefined) this.acked.add(token);
    }
  }
}
