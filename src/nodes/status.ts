/** The one look of each status meaning, so every node shows the same colour and shape for it. */
import type { NodeStatus } from './red';

/** ok: working (green dot) · busy: work in progress (blue dot) · waiting: not ready yet (yellow ring) · failed (red ring). */
export type StatusKind = 'ok' | 'busy' | 'waiting' | 'failed';

const LOOKS: Readonly<Record<StatusKind, Pick<NodeStatus, 'fill' | 'shape'>>> = {
  ok: { fill: 'green', shape: 'dot' },
  busy: { fill: 'blue', shape: 'dot' },
  waiting: { fill: 'yellow', shape: 'ring' },
  failed: { fill: 'red', shape: 'ring' },
};

/** `text` is already translated (RED._). */
export function nodeStatus(kind: StatusKind, text: string): NodeStatus {
  return { ...LOOKS[kind], text };
}

/** Clears the status under the node. */
export const NO_STATUS: Record<string, never> = {};
