/** The goip-config node as flow nodes see it. */
import type { GoipGateway, SendingService } from '../gateway';
import type { GoipEvent, GoipServer } from '../server';
import type { CommandClient } from '../server/commands';
import type { Node, NodeAPI, NodeDef, NodeStatus } from './red';

/** What flow nodes see of their config node. */
export interface GoipConfigNode extends Node {
  /** The application behind the node; null when the configuration failed. */
  gateway: GoipGateway | null;
  server: GoipServer | null;
  /** The durable outbox and send engine; null when the store could not open (see sendingError). */
  sending: SendingService | null;
  sendingError: string | null;
  /** Server commands (goip-command); null when the configuration failed. */
  commands: CommandClient | null;
  /** Receives every device event; returns the unsubscribe function. */
  subscribe(listener: (event: GoipEvent) => void): () => void;
  /** Keeps `node`'s status in step with the server's (listening, lines online, errors). */
  register(node: Node): void;
  deregister(node: Node): void;
  statusText(): NodeStatus;
  /** `goip:status` (NodeStatus) fires whenever the status flow nodes show changes. */
  emit(event: 'goip:status', status: NodeStatus): boolean;
}

/**
 * The goip-config a flow node names in `server`. When missing, the node says so (status and log)
 * and fails every input it gets with that reason.
 */
export function findConfig(RED: NodeAPI, node: Node, def: NodeDef): GoipConfigNode | null {
  const config = RED.nodes.getNode(String(def.server ?? '')) as GoipConfigNode | null;
  if (config === null) {
    const reason = `${def.type} has no goip-config (server) node`;
    node.status({ fill: 'red', shape: 'ring', text: 'no GoIP server set' });
    node.error(reason);
    node.on('input', (_msg, _send, done) => done(new Error(reason)));
  }
  return config;
}
