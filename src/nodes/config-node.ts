/** The goip-config node as flow nodes see it. */
import type { GoipEvent, GoipServer } from '../server';
import type { Node, NodeStatus } from './red';
import type { SendingService } from './sending';

/** What flow nodes see of their config node. */
export interface GoipConfigNode extends Node {
  server: GoipServer | null;
  /** The durable outbox and send engine; null when the store could not open (see sendingError). */
  sending: SendingService | null;
  sendingError: string | null;
  /** Receives every device event; returns the unsubscribe function. */
  subscribe(listener: (event: GoipEvent) => void): () => void;
  /** Keeps `node`'s status in step with the server's (listening, lines online, errors). */
  register(node: Node): void;
  deregister(node: Node): void;
  statusText(): NodeStatus;
  /** `goip:status` (NodeStatus) fires whenever the status flow nodes show changes. */
  emit(event: 'goip:status', status: NodeStatus): boolean;
}

