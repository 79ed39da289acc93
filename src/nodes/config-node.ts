/** The goip-config node as flow nodes see it. */
import type { GatewayMetrics, GoipGateway, SendingService } from '../gateway';
import type { InboxService } from '../gateway/inbox/inbox-service';
import type { GoipEvent, GoipServer } from '../link';
import type { CommandClient } from '../link/commands';
import { failInput } from './input-error';
import type { Node, NodeAPI, NodeDef, NodeStatus } from './red';
import { nodeStatus } from './status';

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
  /** The gateway's Prometheus metrics (GET /goip/<id>/metrics); null when not running. */
  metrics?: GatewayMetrics | null;
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
    // Every flow node type (goip-in, goip-send, goip-command) has these two texts in its catalog.
    const reason = RED._(`${def.type}.errors.noServer`);
    node.status(nodeStatus('failed', RED._(`${def.type}.status.noServer`)));
    node.error(reason);
    node.on('input', (_msg, _send, done) => failInput(done, reason));
  }
  return config;
}

/** The inbox of a deployed goip-config, or why there is none (translated, goip-inbox catalog). */
export function inboxOf(RED: NodeAPI, config: GoipConfigNode): InboxService | string {
  const inbox = config.gateway?.inbox ?? null;
  if (inbox !== null) return inbox;
  return RED._('goip-inbox.errors.unavailable', { reason: config.sendingError ?? RED._('goip-inbox.errors.inboxOff') });
}
