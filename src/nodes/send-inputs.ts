/**
 * Where each goip-send input comes from, in one table. For each input the first source that holds
 * a value wins: the node's own property (when the editor set it), then msg.<name>, then
 * msg.payload.<name> (when the payload is an object). The text falls back to the whole payload
 * when the payload is not an object. Pure: the node's property is read through `fromNode`.
 */
import type { SubmitRequest } from '../gateway/sending';
import type { NodeMessage } from './red';

type Input = 'text' | 'to' | 'line' | 'group' | 'encoding' | 'maxParts' | 'missing' | 'sticky' | 'stickyDays' | 'priority' | 'sendAt' | 'validity' | 'expiresAt' | 'batchId';

interface InputSource {
  /** The node's property of this name (a typed input is evaluated against the message). */
  node: boolean;
  message: boolean;
  payload: boolean;
}

export const SEND_INPUTS: Readonly<Record<Input, InputSource>> = {
  text: { node: true, message: false, payload: true },
  to: { node: true, message: true, payload: true },
  line: { node: true, message: true, payload: true },
  group: { node: false, message: true, payload: true },
  encoding: { node: true, message: false, payload: true },
  maxParts: { node: true, message: false, payload: true },
  missing: { node: false, message: false, payload: true },
  sticky: { node: true, message: false, payload: false },
  stickyDays: { node: true, message: false, payload: false },
  priority: { node: false, message: true, payload: false },
  sendAt: { node: false, message: true, payload: false },
  validity: { node: false, message: true, payload: false },
  expiresAt: { node: false, message: true, payload: false },
  batchId: { node: false, message: true, payload: false },
};

/** The node's value of `name` for this message; undefined when the editor left it empty. */
export type FromNode = (name: string, msg: NodeMessage) => unknown;

export function sendInputs(msg: NodeMessage, fromNode: FromNode): Pick<SubmitRequest, Input> {
  const payload = typeof msg.payload === 'object' && msg.payload !== null && !Array.isArray(msg.payload) && !Buffer.isBuffer(msg.payload) ? (msg.payload as Record<string, unknown>) : null;
  const inputs: Partial<Record<Input, unknown>> = {};
  for (const [name, source] of Object.entries(SEND_INPUTS) as Array<[Input, InputSource]>) {
    let value = source.node ? fromNode(name, msg) : undefined;
    if (value === undefined && source.message) value = msg[name];
    if (value === undefined && source.payload) value = payload?.[name];
    inputs[name] = value;
  }
  if (inputs.text === undefined && payload === null) inputs.text = msg.payload;
  return inputs as Pick<SubmitRequest, Input>;
}
