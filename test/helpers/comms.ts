/**
 * The editor's view of a running Node-RED: its comms websocket (`ws://<host>/comms`), as the
 * debug sidebar and the node status badges receive it. Node-RED 4 protocol (admin auth off): the
 * client sends `{"subscribe": "<topic>"}` (retained messages of matching topics are replayed); the
 * server sends JSON arrays of `{topic, data}`, batched every 50 ms. Topics used here:
 * - `debug`: a debug node's output `{id, z, name, path, topic, msg, format, property}` (msg encoded
 *   by RED.util.encodeObject: a string as is, a number/boolean as text, an object as JSON), and
 *   node warnings/errors `{level: 30|20, id, type, name, z, msg}` (an error handled by a Catch node
 *   is not logged, so it never shows up here);
 * - `status/<node id>`: the node's status `{fill, shape, text}` (`{}` when cleared);
 * - `notification/<id>`: runtime events, e.g. `runtime-state` `{state: 'start'|'stop', error?}` and
 *   `runtime-deploy` `{revision}`, published once a deploy has (re)started the flows. POST /flows
 *   answers before that (Node-RED starts the new flows asynchronously): a test that pushes an
 *   inject button or calls an HTTP endpoint right after the answer may find no node yet.
 * Node-RED 4 sends every published message to every connection; a subscription only replays the
 * retained messages of its topics (which may arrive after later ones: match on content, e.g. the
 * deployed revision, not on arrival alone).
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';

/** `ws` is a dependency of Node-RED's editor API; resolve it from there (no own dependency). */
const WebSocket = require(require.resolve('ws', {
  paths: [path.dirname(require.resolve('@node-red/editor-api/package.json', { paths: [path.dirname(require.resolve('node-red/package.json'))] }))],
})) as WebSocketClass;

interface WebSocketLike {
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer | string) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'open' | 'close', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  off(event: string, listener: (...args: never[]) => void): this;
  send(data: string): void;
  close(): void;
  terminate(): void;
  readonly readyState: number;
}
type WebSocketClass = new (url: string) => WebSocketLike;

/** Node-RED log levels of warnings and errors published on `debug`. */
export const LOG_ERROR = 20;
export const LOG_WARN = 30;

export interface DebugMessage {
  /** The debug node (or the logging node) id. */
  id: string;
  z?: string;
  name?: string;
  /** The logging node's type (warnings and errors only). */
  type?: string;
  topic?: string;
  msg: string;
  format?: string;
  property?: string;
  /** Set on warnings (30) and errors (20) a node logged. */
  level?: number;
}

export interface NodeStatus {
  fill?: string;
  shape?: string;
  text?: string;
}

export interface Notification {
  /** The runtime event id: `runtime-state`, `runtime-deploy`, ... */
  id: string;
  payload: Record<string, any>;
}

export interface CommsEvents {
  debug: [DebugMessage];
  status: [string, NodeStatus];
  notification: [Notification];
}

/** What deploy() needs of a Node-RED (NodeRedProcess). */
export interface AdminApi {
  request(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: string }>;
}

/** The value a debug message shows, decoded from its `format`. */
export function debugValue(message: DebugMessage): unknown {
  const format = message.format ?? '';
  if (format.startsWith('string')) return message.msg;
  if (format === 'number') return Number(message.msg);
  if (format === 'boolean') return message.msg === 'true';
  if (format === 'null') return null;
  if (format === 'undefined') return undefined;
  try {
    return JSON.parse(message.msg);
  } catch {
    return message.msg;
  }
}

export class NodeRedComms extends EventEmitter<CommsEvents> {
  /** Every debug message since the connection, in arrival order. */
  readonly debug: DebugMessage[] = [];
  /** The last status of each node (by id). */
  readonly statuses = new Map<string, NodeStatus>();
  /** Every runtime notification since the connection, in arrival order. */
  readonly notifications: Notification[] = [];
  private closed = false;

  private constructor(private readonly socket: WebSocketLike) {
    super();
    socket.on('message', (data) => this.receive(String(data)));
  }

  /** Connects to `ws://127.0.0.1:<port>/comms` and subscribes to debug and status messages. */
  static connect(port: number, timeoutMs = 10_000): Promise<NodeRedComms> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/comms`);
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`no comms websocket within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('open', () => {
        clearTimeout(timer);
        const comms = new NodeRedComms(socket);
        socket.on('error', () => undefined);
        socket.send(JSON.stringify({ subscribe: 'debug' }));
        socket.send(JSON.stringify({ subscribe: 'status/#' }));
        socket.send(JSON.stringify({ subscribe: 'notification/#' }));
        resolve(comms);
      });
    });
  }

  /** A position in `debug`: pass it as `since` to look only at what arrives after now. */
  mark(): number {
    return this.debug.length;
  }

  /**
   * Deploys `flows` in full through the Admin API (POST /flows, Node-RED-Deployment-Type: full,
   * API v2 so that the answer carries the new revision; credentials may ride on nodes as
   * `credentials: {...}`) and resolves once Node-RED reports that revision's flows started
   * (`runtime-deploy {revision}`); rejects when the deploy is refused or the flows did not start
   * (missing node types, ...).
   */
  async deploy(admin: AdminApi, flows: unknown[], timeoutMs = 30_000): Promise<void> {
    const since = this.notifications.length;
    const res = await admin.request('POST', '/flows', { flows }, { 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v2' });
    if (res.status !== 200 && res.status !== 204) throw new Error(`deploy failed: HTTP ${res.status} ${res.body}`);
    const { rev } = JSON.parse(res.body) as { rev?: string };
    if (typeof rev !== 'string') throw new Error(`deploy answered without a revision: ${res.body}`);
    await this.waitNotification((n) => n.id === 'runtime-deploy' && n.payload.revision === rev, since, timeoutMs, () => `flows revision ${rev} did not start`);
    // runtime-state comes before runtime-deploy: 'start', or 'stop' with the reason.
    const states = this.notifications.slice(since).filter((n) => n.id === 'runtime-state');
    const state = states.length === 0 ? undefined : states[states.length - 1].payload;
    if (state?.state !== 'start') throw new Error(`the deployed flows did not start: runtime-state ${JSON.stringify(state)}`);
  }

  /** The first notification at or after index `since` that `match` accepts (received or to come). */
  waitNotification(match: (n: Notification) => boolean, since: number, timeoutMs: number, explain: () => string): Promise<Notification> {
    const found = this.notifications.slice(since).find(match);
    if (found !== undefined) return Promise.resolve(found);
    return this.nextEvent('notification', (n) => (match(n) ? n : undefined), timeoutMs, explain, () => `notifications since: ${JSON.stringify(this.notifications.slice(since))}`);
  }

  /** Warnings/errors nodes logged since `since` (level 20 errors, or also level 30 warnings). */
  logged(since: number, maxLevel = LOG_ERROR): DebugMessage[] {
    return this.debug.slice(since).filter((m) => m.level !== undefined && m.level <= maxLevel);
  }

  /**
   * The first debug message at or after `since` that `match` accepts: already received or still to
   * come. Rejects after `timeoutMs` (a bound on a failure) with `explain()` and the recent traffic.
   */
  waitDebug(match: (message: DebugMessage) => boolean, since: number, timeoutMs: number, explain: () => string): Promise<DebugMessage> {
    const found = this.debug.slice(since).find(match);
    if (found !== undefined) return Promise.resolve(found);
    return this.nextEvent('debug', (message) => (match(message) ? message : undefined), timeoutMs, explain, () => {
      const recent = this.debug
        .slice(since)
        .slice(-10)
        .map((m) => `  ${m.name ?? m.type ?? m.id}${m.level === undefined ? '' : ` [level ${m.level}]`}: ${m.msg}`)
        .join('\n');
      return `debug messages since:\n${recent || '  (none)'}`;
    });
  }

  /** Resolves once node `id` shows a status `match` accepts (its current one included). */
  waitStatus(id: string, match: (status: NodeStatus) => boolean, timeoutMs: number, explain: () => string): Promise<NodeStatus> {
    const current = this.statuses.get(id);
    if (current !== undefined && match(current)) return Promise.resolve(current);
    return this.nextEvent('status', (nodeId, status) => (nodeId === id && match(status) ? status : undefined), timeoutMs, explain, () => `last status ${JSON.stringify(this.statuses.get(id))}`);
  }

  /**
   * The first `event` that `accept` turns into a value; rejects after `timeoutMs` (a bound on a
   * failure) with `explain()` and `detail()` (what came instead).
   */
  private nextEvent<K extends keyof CommsEvents, T>(
    event: K,
    accept: (...args: CommsEvents[K]) => T | undefined,
    timeoutMs: number,
    explain: () => string,
    detail: () => string,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const listener = (...args: CommsEvents[K]): void => {
        const value = accept(...args);
        if (value === undefined) return;
        clearTimeout(timer);
        this.off(event, listener as never);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.off(event, listener as never);
        reject(new Error(`${explain()} (after ${timeoutMs} ms); ${detail()}`));
      }, timeoutMs);
      this.on(event, listener as never);
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      // readyState 3 = CLOSED
      if (this.socket.readyState === 3) return resolve();
      const timer = setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, 2000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close();
    });
  }

  private receive(text: string): void {
    let batch: unknown;
    try {
      batch = JSON.parse(text);
    } catch {
      return;
    }
    for (const item of Array.isArray(batch) ? batch : [batch]) {
      if (item === null || typeof item !== 'object') continue;
      const { topic, data } = item as { topic?: unknown; data?: unknown };
      if (typeof topic !== 'string' || data === null || typeof data !== 'object') continue;
      if (topic === 'debug') {
        const message = data as DebugMessage;
        this.debug.push(message);
        this.emit('debug', message);
      } else if (topic.startsWith('status/')) {
        const id = topic.slice('status/'.length);
        const status = data as NodeStatus;
        this.statuses.set(id, status);
        this.emit('status', id, status);
      } else if (topic.startsWith('notification/')) {
        const notification = { id: topic.slice('notification/'.length), payload: data as Record<string, any> };
        this.notifications.push(notification);
        this.emit('notification', notification);
      }
    }
  }
}
