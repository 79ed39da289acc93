/**
 * A real Node-RED in a child process (`node node_modules/node-red/red.js --userDir <dir> --settings
 * <dir>/settings.js`) with this package's nodes, for tests that need what the test helper cannot
 * give: a kill -9, a restart on the same user directory, the real flow/credential files.
 *
 * The editor/admin HTTP server listens on 127.0.0.1 on a free port (picked by binding port 0 and
 * closing; an EADDRINUSE race at start is retried on a new port). Readiness = `GET /settings`
 * answers 200, polled at a short interval and bounded (a probe of a child process, not a guess).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RUNTIMES, type Runtime } from './runtimes';

/** The package root (this file runs from dist-test/test/helpers/). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

const READY_POLL_MS = 100;
const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 5;
const LOG_TAIL_CHARS = 64 * 1024;

export interface NodeRedOptions {
  /** User directory; default a new temp dir that cleanup() removes (a given one is kept). */
  userDir?: string;
  /** Merged over the base settings (uiHost, uiPort, flowFile, credentialSecret, nodesDir, ...). */
  settings?: Record<string, unknown>;
  /** Node-RED console log level, default 'info'. */
  logLevel?: string;
  /** Bound of the readiness probe, default 60 s. */
  readyTimeoutMs?: number;
  /** Copy the child's output to this process's stderr; default when NODE_RED_TEST_LOG=1. */
  echo?: boolean;
  /** Node-RED and the Node.js it runs under; default the first of RUNTIMES (Node-RED 4 on this Node). */
  runtime?: Runtime;
  /** Where Node-RED looks for extra nodes; default this checkout. [] for a package installed in the user directory. */
  nodesDir?: string[];
  /** Extra arguments for node before red.js (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** Environment variables of the Node-RED process, over this process's. */
  env?: Record<string, string>;
}

export interface HttpResult {
  status: number;
  body: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Children still alive when the test process exits are killed (a failed run leaves nothing behind). */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A TCP port free on 127.0.0.1 right now (the caller may still lose a race for it). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A UDP port free on 127.0.0.1 right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** One HTTP request to 127.0.0.1:port; a JSON body when `body` is given. */
export function httpRequest(
  port: number,
  method: string,
  urlPath: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    // A Buffer goes as it is (a form, with its Content-Type in `headers`); anything else as JSON.
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        timeout: timeoutMs,
        headers: {
          ...(data === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(data.length) }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class NodeRedProcess {
  readonly userDir: string;
  private readonly ownsUserDir: boolean;
  private readonly options: NodeRedOptions;
  private child: ChildProcess | null = null;
  private exited: Promise<ExitInfo> | null = null;
  private uiPort = 0;
  private log = '';

  private constructor(options: NodeRedOptions) {
    this.options = options;
    this.ownsUserDir = options.userDir === undefined;
    this.userDir = options.userDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'goip-node-red-'));
    fs.mkdirSync(this.userDir, { recursive: true });
  }

  /** Creates the user directory and starts Node-RED; resolves once it answers HTTP. */
  static async start(options: NodeRedOptions = {}): Promise<NodeRedProcess> {
    const red = new NodeRedProcess(options);
    try {
      await red.start();
    } catch (err) {
      await red.cleanup();
      throw err;
    }
    return red;
  }

  /** The editor/admin HTTP port of the current (or last) child. */
  get port(): number {
    return this.uiPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.uiPort}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last output of the child(ren), for failure messages. */
  output(): string {
    return this.log;
  }

  /**
   * Starts (or restarts, after kill()) Node-RED on the same user directory: the deployed flows and
   * credentials (flows.json, flows_cred.json) load from there. Keeps the last HTTP port when it is free.
   */
  async start(): Promise<void> {
    if (this.running) throw new Error('Node-RED is already running');
    let lastError: Error | null = null;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      if (attempt > 0 || this.uiPort === 0) this.uiPort = await freeTcpPort();
      this.writeSettings();
      const logStart = this.log.length;
      this.spawnChild();
      try {
        await this.waitReady();
        return;
      } catch (err) {
        lastError = err as Error;
        await this.kill('SIGKILL');
        // Lost the race for the port: try another one. Anything else is a real failure.
        if (!/EADDRINUSE|port in use|Unable to listen/i.test(this.log.slice(logStart))) break;
      }
    }
    throw lastError ?? new Error('Node-RED did not start');
  }

  /** Deploys `flows` (a flow array; credentials may ride on nodes as `credentials: {...}`). */
  async deploy(flows: unknown[]): Promise<void> {
    const res = await this.request('POST', '/flows', flows, { 'Node-RED-Deployment-Type': 'full' });
    if (res.status !== 200 && res.status !== 204) throw new Error(`deploy failed: HTTP ${res.status} ${res.body}`);
  }

  request(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    return httpRequest(this.uiPort, method, urlPath, body, headers);
  }

  /**
   * Sends `signal` at once (synchronously, so a caller can kill at an exact moment) and resolves
   * when the child has exited. A signal other than SIGKILL escalates to SIGKILL after `timeoutMs`.
   */
  kill(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<ExitInfo> {
    const child = this.child;
    const exited = this.exited;
    if (child === null || exited === null) return Promise.resolve({ code: null, signal: null });
    if (!this.running) return exited;
    child.kill(signal);
    if (signal === 'SIGKILL') return exited;
    const escalate = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return exited.finally(() => clearTimeout(escalate));
  }

  /** Kills the child (SIGKILL) if it still runs and removes the user directory if this created it. */
  async cleanup(): Promise<void> {
    await this.kill('SIGKILL');
    if (this.ownsUserDir) fs.rmSync(this.userDir, { recursive: true, force: true });
  }

  private writeSettings(): void {
    const settings = {
      uiHost: '127.0.0.1',
      uiPort: this.uiPort,
      flowFile: 'flows.json',
      credentialSecret: false,
      nodesDir: this.options.nodesDir ?? [PACKAGE_ROOT],
      editorTheme: { tours: false, projects: { enabled: false } },
      telemetry: { enabled: false, updateNotification: false },
      diagnostics: { enabled: false, ui: false },
      logging: { console: { level: this.options.logLevel ?? 'info', metrics: false, audit: false } },
      ...this.options.settings,
    };
    fs.writeFileSync(this.settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  }

  private get settingsFile(): string {
    return path.join(this.userDir, 'settings.js');
  }

  private spawnChild(): void {
    const runtime = this.options.runtime ?? RUNTIMES[0];
    const child = spawn(runtime.node, [...(this.options.nodeArgs ?? []), runtime.redJs, '--userDir', this.userDir, '--settings', this.settingsFile], {
      cwd: this.userDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false', ...this.options.env },
    });
    const echo = this.options.echo ?? process.env.NODE_RED_TEST_LOG === '1';
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      this.log = (this.log + text).slice(-LOG_TAIL_CHARS);
      if (echo) process.stderr.write(`[node-red ${child.pid}] ${text}`);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    live.add(child);
    this.child = child;
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        resolve({ code, signal });
      });
      child.once('error', (err) => {
        this.log += `\nspawn error: ${err.message}\n`;
        live.delete(child);
        resolve({ code: null, signal: null });
      });
    });
  }

  /** Polls GET /settings until it answers 200; fails early when the child exits. */
  private async waitReady(): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`Node-RED exited before it was ready:\n${this.log.slice(-4000)}`);
      try {
        const res = await httpRequest(this.uiPort, 'GET', '/settings', undefined, {}, 2000);
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await delay(READY_POLL_MS);
    }
    throw new Error(`Node-RED did not answer GET /settings within ${timeoutMs} ms:\n${this.log.slice(-4000)}`);
  }
}
