/**
 * The slice of the Node-RED runtime API these nodes use. Declared here rather than pulled from
 * @types/node-red (which lags the runtime and drags express types in).
 */

export interface NodeMessage {
  [key: string]: unknown;
  _msgid?: string;
}

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export type Done = (err?: Error) => void;
export type Send = (msg: NodeMessage | Array<NodeMessage | null> | null) => void;

export interface Node {
  id: string;
  type: string;
  name?: string;
  credentials: Record<string, string | undefined>;
  on(event: 'input', handler: (msg: NodeMessage, send: Send, done: Done) => void): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
  send(msg: NodeMessage | Array<NodeMessage | null> | null): void;
  status(status: NodeStatus | Record<string, never>): void;
  error(err: unknown, msg?: NodeMessage): void;
  warn(message: unknown): void;
  log(message: unknown): void;
  debug(message: unknown): void;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  [key: string]: unknown;
}

export interface HttpRequest {
  params: Record<string, string>;
  /** The URL's query, parsed by Express. */
  query?: Record<string, unknown>;
}
export interface HttpResponse {
  json(body: unknown): void;
  status(code: number): HttpResponse;
  set(field: string, value: string): HttpResponse;
  send(body: string): void;
}
type Handler = (req: HttpRequest, res: HttpResponse, next?: () => void) => void;

export interface NodeAPI {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    registerType(
      type: string,
      constructor: (this: Node, def: NodeDef) => void,
      options?: { credentials?: Record<string, { type: 'text' | 'password' }>; settings?: object },
    ): void;
    getNode(id: string): Node | null;
  };
  httpAdmin: { get(path: string, ...handlers: Handler[]): void };
  auth: { needsPermission(permission: string): Handler };
  settings: { userDir?: string; [key: string]: unknown };
  util: {
    cloneMessage<T>(msg: T): T;
    generateId(): string;
    evaluateNodeProperty(value: unknown, type: string, node: Node, msg: NodeMessage): unknown;
  };
  /** Messaging hooks (Node-RED >= 2). */
  hooks?: MessagingHooks;
  _: (key: string, substitutions?: Record<string, unknown>) => string;
  /** Messages to the editors (topic, data, retained for editors that connect later). */
  comms: { publish(topic: string, data: unknown, retain: boolean): void };
}

/** The fields of Node-RED's hook events used by the result handover (onReceive has destination, onComplete node). */
export interface HookEvent {
  msg?: unknown;
  destination?: { id?: string };
  node?: { id?: string };
}

export interface MessagingHooks {
  add(name: string, hook: (event: HookEvent) => void): void;
  remove(name: string): void;
}
