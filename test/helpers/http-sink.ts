/**
 * An HTTP server in the test process that a real Node-RED's `http request` nodes POST JSON to:
 * every body is kept by its path and emitted as 'post'. It lives outside Node-RED, so it keeps
 * what came across a kill -9 and restart.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './until';

export class HttpSink extends EventEmitter<{ post: [path: string, body: unknown] }> {
  private readonly bodies = new Map<string, unknown[]>();
  private server: http.Server | null = null;
  private base = '';

  /** Listens on an ephemeral port of 127.0.0.1. */
  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        res.end('ok');
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return;
        }
        const path = req.url ?? '/';
        const list = this.bodies.get(path) ?? [];
        list.push(body);
        this.bodies.set(path, list);
        this.emit('post', path, body);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The URL Node-RED posts `path` to. */
  url(path: string): string {
    return `${this.base}${path}`;
  }

  received(path: string): unknown[] {
    return this.bodies.get(path) ?? [];
  }

  /** Resolves with received(path) once `check` holds for it; rejects with `explain()` after `timeoutMs`. */
  waitFor(path: string, check: (bodies: unknown[]) => boolean, timeoutMs: number, explain: () => string): Promise<unknown[]> {
    return until(() => check(this.received(path)), [[this, 'post']], timeoutMs, explain).then(() => this.received(path));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
