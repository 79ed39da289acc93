/** A raw UDP peer on 127.0.0.1 that plays a GoIP line (or an attacker) by hand in tests. */
import dgram from 'node:dgram';

export interface Received {
  text: string;
  port: number;
  address: string;
}

export class UdpPeer {
  readonly received: Received[] = [];
  private waiters: Array<{ match: (m: Received) => boolean; resolve: (m: Received) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  private cursor = 0;

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (buffer, rinfo) => {
      const message = { text: buffer.toString('utf8'), port: rinfo.port, address: rinfo.address };
      this.received.push(message);
      this.deliver();
    });
  }

  static async open(): Promise<UdpPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new UdpPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(text: string | Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(text, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  /**
   * The next datagram (after those already taken) that `match` accepts; earlier non-matching
   * ones are skipped. Rejects after `timeoutMs`, a safety net against a hung test, not a wait.
   */
  next(match: (m: Received) => boolean = () => true, timeoutMs = 5000): Promise<Received> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no matching datagram within ${timeoutMs} ms; got ${JSON.stringify(this.received.slice(this.cursor).map((m) => m.text))}`));
      }, timeoutMs);
      this.waiters.push({ match, resolve, reject, timer });
      this.deliver();
    });
  }

  /** Sends `text` and resolves with the first datagram that follows and matches. */
  async request(text: string, port: number, match?: (m: Received) => boolean): Promise<Received> {
    const reply = this.next(match);
    await this.send(text, port);
    return reply;
  }

  close(): Promise<void> {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters = [];
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private deliver(): void {
    while (this.waiters.length > 0 && this.cursor < this.received.length) {
      const message = this.received[this.cursor++];
      const index = this.waiters.findIndex((w) => w.match(message));
      if (index === -1) continue;
      const [waiter] = this.waiters.splice(index, 1);
      clearTimeout(waiter.timer);
      waiter.resolve(message);
    }
  }
}

/** Resolves with the next `name` event's arguments. */
export function nextEvent<T extends unknown[]>(emitter: NodeJS.EventEmitter, name: string, match: (...args: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (...args: unknown[]): void => {
      if (!match(...(args as T))) return;
      emitter.off(name, listener);
      resolve(args as T);
    };
    emitter.on(name, listener);
  });
}
