/**
 * The server's one UDP socket and its bind lifecycle: bind with a readable error, close at any
 * moment (a close during a pending bind settles the bind), and nothing left open after a failure.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

/** A bind that failed; `code` is the OS error code (EADDRINUSE, ...), ESTOPPED when closed first. */
export class BindError extends Error {
  override name = 'BindError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * Bind failures that can go away without a redeploy: the port's holder exits, the address comes
 * up (a late network interface), the privilege is granted.
 */
const TRANSIENT_BIND_CODES = new Set(['EADDRINUSE', 'EACCES', 'EPERM', 'EADDRNOTAVAIL']);

export function isTransientBindError(err: unknown): err is BindError {
  return err instanceof BindError && TRANSIENT_BIND_CODES.has(err.code);
}

export interface UdpEndpointHandlers {
  message(buffer: Buffer, rinfo: dgram.RemoteInfo): void;
  /** A socket error after the bind (send failures among them). */
  error(err: Error): void;
}

export class UdpEndpoint {
  private socket: dgram.Socket | null = null;
  private bound: AddressInfo | null = null;
  /** Rejects the pending bind; set only while one is pending. */
  private cancelBind: (() => void) | null = null;

  constructor(private readonly handlers: UdpEndpointHandlers) {}

  /** Where the socket is bound, null while binding and when closed. */
  get address(): AddressInfo | null {
    return this.bound;
  }

  /** Binds; rejects with a BindError (and leaves nothing open) when the OS refuses or close() comes first. */
  open(bind: string, port: number, receiveBufferBytes: number): Promise<AddressInfo> {
    if (this.socket !== null) return Promise.reject(new Error('GoIP server already started'));
    const socket = dgram.createSocket({ type: bind.includes(':') ? 'udp6' : 'udp4' });
    this.socket = socket;
    return new Promise<AddressInfo>((resolve, reject) => {
      const onBindError = (err: NodeJS.ErrnoException): void => {
        this.cancelBind = null;
        if (this.socket === socket) this.socket = null;
        const error = new BindError(describeBindError(err, bind, port), err.code ?? '');
        socket.close(() => reject(error));
      };
      this.cancelBind = () => reject(new BindError(`stopped before UDP ${bind}:${port} was bound`, 'ESTOPPED'));
      socket.once('error', onBindError);
      socket.bind(port, bind, () => {
        socket.off('error', onBindError);
        this.cancelBind = null;
        try {
          socket.setRecvBufferSize(receiveBufferBytes);
        } catch {
          // The OS keeps its own limit; a smaller buffer only matters under bursts.
        }
        socket.on('error', this.handlers.error);
        socket.on('message', this.handlers.message);
        this.bound = socket.address();
        resolve(this.bound);
      });
    });
  }

  /** Closes the socket; a pending open() rejects with ESTOPPED once it is closed. */
  close(): Promise<void> {
    const socket = this.socket;
    const cancelBind = this.cancelBind;
    this.socket = null;
    this.bound = null;
    this.cancelBind = null;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => {
      socket.close(() => {
        cancelBind?.();
        resolve();
      });
    });
  }

  send(text: string, address: string, port: number): void {
    // No per-send callback (it costs a closure and a completion per ack): send errors reach the
    // socket's 'error' listener instead.
    this.socket?.send(text, port, address);
  }

  get isOpen(): boolean {
    return this.socket !== null;
  }
}

export function describeBindError(err: NodeJS.ErrnoException, bind: string, port: number): string {
  const where = `${bind}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `UDP port ${port} is already in use (${where}): another GoIP server or program holds it`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied binding UDP ${where} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `address ${bind} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve bind address "${bind}"`;
    default:
      return `cannot bind UDP ${where}: ${err.message}`;
  }
}
